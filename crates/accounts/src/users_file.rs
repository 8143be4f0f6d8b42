//! The users file: Dovecot's passwd-file format.
//!
//! One user per line:
//!
//! ```text
//! user@domain:password:uid:gid:gecos:home:shell:extra_fields
//! ```
//!
//! Every field after the password is optional (`alice@example.org:{ARGON2ID}...`
//! is a whole line). `uid` and `gid` are numbers (the owner of the
//! Maildir in system-user setups); `extra_fields` are `key=value` pairs
//! separated by spaces, kept but not used yet, and may contain `:`. An
//! empty password field means the user receives mail but cannot log in.
//! Lines whose first non-blank character is `#` are comments.
//!
//! A bad line (no `:`, an empty user, a user without `@domain`, an unknown
//! password scheme, a bad uid or gid) is skipped with a [`Problem`] naming
//! the file and line; the rest of the file is used. For a user listed
//! twice, the first line wins and the second draws a warning.
//!
//! [`add`], [`set_password`] and [`delete`] edit the file for `postern user`:
//! see their documentation for how the file is kept safe.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::address::user_name_problem;
use crate::error::{Error, Problem};
use crate::fileio;
use crate::password;

mod edit;

pub use edit::{add, check_name, delete, set_password};

/// One user from the users file.
#[derive(Clone, PartialEq, Eq)]
pub struct UserEntry {
    /// The user name as written (`Alice@Example.org`); lookups fold case.
    pub name: String,
    /// The stored password (`{SCHEME}hash`); empty: no login.
    pub password: String,
    /// The uid field, if set.
    pub uid: Option<u32>,
    /// The gid field, if set.
    pub gid: Option<u32>,
    /// The gecos field (a comment).
    pub gecos: String,
    /// The home field, if set (kept; mailboxes are under
    /// `virtual_mailbox_base`).
    pub home: Option<PathBuf>,
    /// The shell field (unused).
    pub shell: String,
    /// The extra fields, `key=value` (a bare `key` has an empty value).
    pub extra: Vec<(String, String)>,
    /// The line of the users file the entry is on (1-based).
    pub line: usize,
}

impl UserEntry {
    /// The lookup key: the name in lower case.
    pub fn key(&self) -> String {
        self.name.to_lowercase()
    }
}

impl fmt::Debug for UserEntry {
    /// Like a derived `Debug`, but the password hash is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserEntry")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("gecos", &self.gecos)
            .field("home", &self.home)
            .field("shell", &self.shell)
            .field("extra", &self.extra)
            .field("line", &self.line)
            .finish()
    }
}

/// A parsed users file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsersFile {
    /// The good entries in file order, duplicates left out.
    pub entries: Vec<UserEntry>,
    /// The bad lines and duplicates.
    pub problems: Vec<Problem>,
}

/// Parses the contents of the users file `path` (used in messages).
pub fn parse(path: &Path, text: &[u8]) -> UsersFile {
    let mut out = UsersFile::default();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (number, line) in fileio::lines(text) {
        let Ok(line) = line else {
            out.problems.push(Problem::error(
                path,
                number,
                "not valid UTF-8; line ignored",
            ));
            continue;
        };
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_line(line, number) {
            Ok(entry) => {
                let key = entry.key();
                if let Some(first) = first_line.get(&key) {
                    out.problems.push(Problem::warning(
                        path,
                        number,
                        format!(
                            "duplicate user {} (first defined at line {first}); this line is ignored",
                            entry.name
                        ),
                    ));
                } else {
                    first_line.insert(key, number);
                    out.entries.push(entry);
                }
            }
            Err(reason) => out.problems.push(Problem::error(
                path,
                number,
                format!("{reason}; line ignored"),
            )),
        }
    }
    out
}

/// One line, or what is wrong with it (never quoting the password).
fn parse_line(line: &str, number: usize) -> Result<UserEntry, String> {
    let mut fields = line.splitn(8, ':');
    let name = fields.next().unwrap_or_default();
    let Some(password) = fields.next() else {
        return Err("no ':' after the user name".to_owned());
    };
    if let Some(reason) = user_name_problem(name) {
        return Err(format!("bad user name {name:?}: {reason}"));
    }
    if !password.is_empty() {
        password::check(password).map_err(|e| format!("user {name}: {e}"))?;
    }
    let uid = parse_id(fields.next(), "uid")?;
    let gid = parse_id(fields.next(), "gid")?;
    let gecos = fields.next().unwrap_or_default().to_owned();
    let home = fields.next().filter(|h| !h.is_empty()).map(PathBuf::from);
    let shell = fields.next().unwrap_or_default().to_owned();
    let extra = fields
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(|field| match field.split_once('=') {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => (field.to_owned(), String::new()),
        })
        .collect();
    Ok(UserEntry {
        name: name.to_owned(),
        password: password.to_owned(),
        uid,
        gid,
        gecos,
        home,
        shell,
        extra,
        line: number,
    })
}

/// A uid or gid field: empty means unset.
fn parse_id(field: Option<&str>, what: &str) -> Result<Option<u32>, String> {
    match field {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<u32>()
            .map(Some)
            .map_err(|_| format!("bad {what} {text:?} (must be a number)")),
    }
}

/// Reads and parses the users file; a missing file has no users.
pub fn load(path: &Path) -> Result<UsersFile, Error> {
    Ok(match fileio::read_optional(path)? {
        Some(text) => parse(path, &text),
        None => UsersFile::default(),
    })
}

/// The users in the file, in file order (for `postern user list`); bad
/// lines are left out (see [`load`] for them).
pub fn list(path: &Path) -> Result<Vec<UserEntry>, Error> {
    load(path).map(|file| file.entries)
}

#[cfg(test)]
mod tests;
