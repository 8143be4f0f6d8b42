//! keywords - the names of a Maildir's IMAP keywords, in Dovecot's
//! `dovecot-keywords` file.
//!
//! A message file's flags suffix carries keywords as the letters `a`..`z`
//! (the `flags` module); which keyword a letter stands for is per folder,
//! in `dovecot-keywords` in the Maildir's directory. Each line is an index
//! and a name, index 0 being the letter `a`:
//!
//! ```text
//! 0 $Forwarded
//! 1 Junk
//! ```
//!
//! so a folder has at most 26 keywords. Letters are never reassigned:
//! a keyword, once given a letter, keeps it (Dovecot behaves the same),
//! because message file names other sessions have not yet re-read carry
//! the letter.
//!
//! Reading is tolerant, as for the UID list: a line that is not an index
//! below 26, a space and a valid keyword is logged and skipped, and so is
//! a later line repeating an index or a name. Names compare without
//! regard to ASCII case, as IMAP flags do; the spelling first written
//! stays the one shown.
//!
//! A new keyword is added under the UID list lock (the `uidlock` module),
//! which is also what Dovecot holds when it changes this file: the file
//! is read again under the lock, the lowest free index taken, and the
//! whole file replaced (temporary file, fsync, rename, directory fsync).

use std::os::fd::AsFd;
use std::path::Path;

use crate::error::Error;
use crate::fsutil::{FileMode, read_file_at, replace_file};
use crate::maildir::Maildir;
use crate::uidlock::{self, LockTiming};

/// The keyword list's file name, in the Maildir's directory.
pub(crate) const KEYWORDS_FILE: &str = "dovecot-keywords";

/// How many keywords a folder can have: one per letter `a`..`z`.
pub(crate) const SLOTS: usize = 26;

/// A keyword list larger than this is refused (26 names of the longest
/// length fit in well under 8 KiB).
const MAX_FILE_SIZE: u64 = 64 * 1024;

/// The longest keyword name accepted, in bytes. IMAP sets no limit; this
/// one keeps a hostile client from growing the file without bound.
pub const MAX_KEYWORD_LEN: usize = 255;

/// Keywords - the keyword names of one Maildir (folder), by letter.
///
/// Blocking: use it from `spawn_blocking` or a blocking thread.
#[derive(Debug)]
pub struct Keywords {
    /// The Maildir, opened afresh for each read or write (holding its
    /// directory open would cost every idle IMAP session a descriptor).
    maildir: Maildir,
    /// The name for each index (`a` is 0), as last read.
    names: [Option<String>; SLOTS],
    /// Lock waiting times (shorter in tests).
    timing: LockTiming,
}

impl Keywords {
    /// load - read the keyword list of `maildir`; a missing file is an
    /// empty list. A malformed line is logged and skipped.
    pub fn load(maildir: &Maildir) -> Result<Keywords, Error> {
        Keywords::load_with(maildir, LockTiming::DEFAULT)
    }

    /// load_with - [`Keywords::load`] with other lock timing.
    pub(crate) fn load_with(maildir: &Maildir, timing: LockTiming) -> Result<Keywords, Error> {
        let mut keywords = Keywords {
            maildir: maildir.clone(),
            names: Default::default(),
            timing,
        };
        keywords.refresh()?;
        Ok(keywords)
    }

    /// refresh - read the file again, for keywords another session (or
    /// Dovecot) added since. Letters already known keep their names.
    pub fn refresh(&mut self) -> Result<(), Error> {
        let dir = self.maildir.open()?;
        self.names = read_names(dir.as_fd(), self.maildir.path())?;
        Ok(())
    }

    /// name - the keyword that `letter` (`b'a'`..=`b'z'`) stands for, if
    /// the list has one. A letter set on a message but missing from the
    /// list (written by a broken tool, or added since the last
    /// [`Keywords::refresh`]) has none; IMAP shows no keyword for it.
    pub fn name(&self, letter: u8) -> Option<&str> {
        let index = index_of_letter(letter)?;
        self.names.get(index)?.as_deref()
    }

    /// letter_for - the letter (`b'a'`..=`b'z'`) of keyword `name`,
    /// compared without regard to ASCII case. If the list does not have
    /// it, the file is read again (another session may have added it);
    /// then, with `create`, it is given the lowest free letter and the
    /// file is rewritten under the UID list lock.
    ///
    /// Ok(None) if the folder has no such keyword and either `create` is
    /// false or all 26 letters are taken (IMAP: the keyword cannot be
    /// stored; leave `\*` out of PERMANENTFLAGS, see
    /// [`Keywords::is_full`]). A name that is not a valid IMAP atom (see
    /// [`is_valid_keyword`]) is [`Error::InvalidKeyword`]. A lock held too
    /// long is [`Error::LockTimeout`], temporary.
    pub fn letter_for(&mut self, name: &str, create: bool) -> Result<Option<u8>, Error> {
        if let Some(reason) = keyword_problem(name) {
            return Err(Error::InvalidKeyword {
                name: name.to_owned(),
                reason,
            });
        }
        if let Some(letter) = find(&self.names, name) {
            return Ok(Some(letter));
        }
        self.refresh()?;
        if let Some(letter) = find(&self.names, name) {
            return Ok(Some(letter));
        }
        if !create {
            return Ok(None);
        }
        let dir = self.maildir.open()?;
        let path = self.maildir.path().to_path_buf();
        let _lock = uidlock::lock(dir.as_fd(), &path, self.timing)?;
        self.refresh()?;
        if let Some(letter) = find(&self.names, name) {
            return Ok(Some(letter));
        }
        let Some(index) = self.names.iter().position(Option::is_none) else {
            return Ok(None);
        };
        let mut names = self.names.clone();
        if let Some(slot) = names.get_mut(index) {
            *slot = Some(name.to_owned());
        }
        replace_file(
            dir.as_fd(),
            &path,
            KEYWORDS_FILE,
            &to_bytes(&names),
            FileMode::LikeDirectory,
        )?;
        tracing::debug!(path = %path.display(), keyword = name, index, "keyword added");
        self.names = names;
        Ok(letter_of_index(index))
    }

    /// iter - every keyword as (letter, name), in letter order: the
    /// keywords IMAP's FLAGS and PERMANENTFLAGS responses list.
    pub fn iter(&self) -> impl Iterator<Item = (u8, &str)> {
        self.names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((letter_of_index(i)?, n.as_deref()?)))
    }

    /// is_full - whether every letter is taken, so no new keyword can be
    /// stored (as of the last read).
    pub fn is_full(&self) -> bool {
        self.names.iter().all(Option::is_some)
    }
}

/// is_valid_keyword - whether `name` can be an IMAP keyword: a non-empty
/// atom of at most [`MAX_KEYWORD_LEN`] bytes, that is printable ASCII
/// without space and without any of `(` `)` `{` `%` `*` `"` `\` `]`
/// (so a system flag such as `\Seen` is not a keyword).
pub fn is_valid_keyword(name: &str) -> bool {
    keyword_problem(name).is_none()
}

/// keyword_problem - why `name` is not a valid keyword, if it is not.
fn keyword_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty");
    }
    if name.len() > MAX_KEYWORD_LEN {
        return Some("too long");
    }
    let bad = |b: u8| !(0x21..=0x7e).contains(&b) || b"(){%*\"\\]".contains(&b);
    if name.bytes().any(bad) {
        return Some("not an IMAP atom");
    }
    None
}

/// find - the letter whose name equals `name` without regard to case.
fn find(names: &[Option<String>; SLOTS], name: &str) -> Option<u8> {
    let index = names
        .iter()
        .position(|n| n.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))?;
    letter_of_index(index)
}

/// letter_of_index - `a` for 0, and so on.
fn letter_of_index(index: usize) -> Option<u8> {
    let index = u8::try_from(index)
        .ok()
        .filter(|&i| usize::from(i) < SLOTS)?;
    Some(b'a' + index)
}

/// index_of_letter - 0 for `a`, and so on.
fn index_of_letter(letter: u8) -> Option<usize> {
    letter
        .is_ascii_lowercase()
        .then(|| usize::from(letter - b'a'))
}

/// read_names - the names in the keyword list of the Maildir open as
/// `dir` (all None if there is no file).
fn read_names(
    dir: std::os::fd::BorrowedFd<'_>,
    dir_path: &Path,
) -> Result<[Option<String>; SLOTS], Error> {
    let data = read_file_at(dir, dir_path, KEYWORDS_FILE, MAX_FILE_SIZE, "keyword list")?;
    Ok(parse(
        data.as_deref().unwrap_or_default(),
        &dir_path.join(KEYWORDS_FILE),
    ))
}

/// parse - the names in a keyword list's bytes; `path` is for log messages.
pub(crate) fn parse(data: &[u8], path: &Path) -> [Option<String>; SLOTS] {
    let mut names: [Option<String>; SLOTS] = Default::default();
    for (number, line) in data.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let line_number = number + 1;
        let parsed = std::str::from_utf8(line).ok().and_then(|l| {
            let (index, name) = l.split_once(' ')?;
            if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let index: usize = index.parse().ok().filter(|&i| i < SLOTS)?;
            is_valid_keyword(name).then_some((index, name))
        });
        let Some((index, name)) = parsed else {
            tracing::warn!(path = %path.display(), line = line_number, "malformed line in keyword list; skipped");
            continue;
        };
        if find(&names, name).is_some() {
            tracing::warn!(path = %path.display(), line = line_number, keyword = name, "keyword list names a keyword twice; later line skipped");
            continue;
        }
        match names.get_mut(index) {
            Some(slot @ None) => *slot = Some(name.to_owned()),
            _ => {
                tracing::warn!(path = %path.display(), line = line_number, index, "keyword list repeats an index; later line skipped");
            }
        }
    }
    names
}

/// to_bytes - a keyword list's file contents.
pub(crate) fn to_bytes(names: &[Option<String>; SLOTS]) -> Vec<u8> {
    let mut out = String::new();
    for (index, name) in names.iter().enumerate() {
        if let Some(name) = name {
            out.push_str(&index.to_string());
            out.push(' ');
            out.push_str(name);
            out.push('\n');
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests;
