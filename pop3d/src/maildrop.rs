//! The maildrop of a logged-in session: locked, numbered, with deletions pending
//! until QUIT.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Why a maildrop could not be opened.
pub enum OpenError {
    /// Another session holds the lock.
    InUse,
    /// The store failed.
    Store(mailstore::Error),
}

struct Entry {
    uid: u32,
    size: u64,
    uidl: String,
    deleted: bool,
}

/// The messages as numbered at login (RFC 1939: numbers do not change in a session).
pub struct Maildrop {
    _lock: mailstore::MaildropLock,
    view: mailstore::Mailbox,
    entries: Vec<Entry>,
}

impl Maildrop {
    /// Locks and opens the Maildir at `path`, moving new mail to `cur/`.
    pub fn open(path: &Path) -> Result<Maildrop, OpenError> {
        let maildir = mailstore::Maildir::new(path);
        maildir
            .ensure(None, mailstore::DEFAULT_MODE)
            .map_err(OpenError::Store)?;
        let lock = mailstore::MaildropLock::try_acquire(&maildir)
            .map_err(OpenError::Store)?
            .ok_or(OpenError::InUse)?;
        let mut view = mailstore::Mailbox::open(&maildir).map_err(OpenError::Store)?;
        view.move_new_to_cur().map_err(OpenError::Store)?;
        // A UIDL saved in the UID list by an earlier migration wins over the
        // computed one, so clients keep seeing the same UIDLs.
        let entries = view
            .messages()
            .iter()
            .map(|m| Entry {
                uid: m.uid,
                size: m.wire_size,
                uidl: view
                    .pop3_uidl(m.uid)
                    .unwrap_or_else(|| mailstore::pop3_uidl(m.uid, view.uidvalidity())),
                deleted: false,
            })
            .collect();
        Ok(Maildrop {
            _lock: lock,
            view,
            entries,
        })
    }

    fn live(&self) -> impl Iterator<Item = (u32, &Entry)> {
        self.entries
            .iter()
            .zip(1u32..)
            .filter(|(e, _)| !e.deleted)
            .map(|(e, n)| (n, e))
    }

    fn get(&self, n: u32) -> Option<&Entry> {
        let index = usize::try_from(n.checked_sub(1)?).ok()?;
        self.entries.get(index).filter(|e| !e.deleted)
    }

    /// Messages not marked deleted.
    pub fn count(&self) -> usize {
        self.live().count()
    }

    /// Every message numbered at login, deleted or not, and their total size: the
    /// logout line's `del=N/TOTAL` and `size=`.
    pub fn at_login(&self) -> (usize, u64) {
        (
            self.entries.len(),
            self.entries.iter().map(|e| e.size).sum(),
        )
    }

    /// Their total size in octets (CRLF form).
    pub fn total_size(&self) -> u64 {
        self.live().map(|(_, e)| e.size).sum()
    }

    /// (number, size) of each message not marked deleted.
    pub fn list(&self) -> Vec<(u32, u64)> {
        self.live().map(|(n, e)| (n, e.size)).collect()
    }

    /// (number, UIDL) of each message not marked deleted.
    pub fn uidls(&self) -> Vec<(u32, String)> {
        self.live().map(|(n, e)| (n, e.uidl.clone())).collect()
    }

    /// One message's size.
    pub fn size(&self, n: u32) -> Option<u64> {
        self.get(n).map(|e| e.size)
    }

    /// One message's UIDL.
    pub fn uidl(&self, n: u32) -> Option<String> {
        self.get(n).map(|e| e.uidl.clone())
    }

    /// Marks message `n` deleted; false when there is no such message.
    pub fn delete(&mut self, n: u32) -> bool {
        let Some(index) = n.checked_sub(1).and_then(|i| usize::try_from(i).ok()) else {
            return false;
        };
        match self.entries.get_mut(index) {
            Some(entry) if !entry.deleted => {
                entry.deleted = true;
                true
            }
            _ => false,
        }
    }

    /// Unmarks every deleted message (RSET).
    pub fn reset(&mut self) {
        for entry in &mut self.entries {
            entry.deleted = false;
        }
    }

    /// The message in CRLF form: whole, or (TOP) the header and `lines` body lines.
    ///
    /// XXX: the message is held in memory while it is sent; a streaming send would
    /// keep the session small for very large messages.
    pub fn content(&mut self, n: u32, lines: Option<u32>) -> std::io::Result<Vec<u8>> {
        let uid = self
            .get(n)
            .ok_or_else(|| std::io::Error::other("no such message"))?
            .uid;
        let reader = self
            .view
            .open_message(uid)
            .map_err(std::io::Error::other)?
            .ok_or_else(|| std::io::Error::other("the message was removed by another process"))?;
        let mut out = Vec::new();
        match lines {
            None => {
                let mut reader = reader;
                reader.read_to_end(&mut out)?;
            }
            Some(lines) => {
                let mut reader = BufReader::new(reader);
                let mut in_body = false;
                let mut body_lines = 0;
                loop {
                    if in_body && body_lines >= lines {
                        break;
                    }
                    let mut line = Vec::new();
                    if reader.read_until(b'\n', &mut line)? == 0 {
                        break;
                    }
                    if in_body {
                        body_lines += 1;
                    } else if line == b"\r\n" || line == b"\n" {
                        in_body = true;
                    }
                    out.extend_from_slice(&line);
                }
            }
        }
        Ok(out)
    }

    /// UPDATE: expunges the messages marked deleted (a message someone else removed
    /// meanwhile is not an error); returns how many.
    pub fn commit(mut self) -> Result<usize, mailstore::Error> {
        let doomed: Vec<u32> = self
            .entries
            .iter()
            .filter(|e| e.deleted)
            .map(|e| e.uid)
            .collect();
        self.view.expunge(&doomed)?;
        Ok(doomed.len())
    }
}
