//! The aliases file: `/etc/aliases` format, as read by Postfix's local(8).
//!
//! ```text
//! # comment
//! postmaster: root
//! root:       alice, backup@example.net
//! staff:      alice, bob,
//!             carol                     # a line starting with white space continues
//! owner-staff: alice
//! archive:    /var/mail/archive, "|/usr/local/bin/filter --to archive"
//! lists:      :include:/etc/postern/lists.txt
//! sales@example.org: alice@example.org
//! ```
//!
//! A name is a bare local part (it applies to every local domain) or a
//! full address (it applies to exactly that address, in a local or a
//! virtual domain). Names are matched case-insensitively; a name may be
//! quoted (`"odd name": ...`). Targets are separated by commas; a target
//! in double quotes may contain commas and spaces (`\` escapes inside
//! quotes). A target is:
//!
//! - `|command`: the message is piped to the command;
//! - `/path`: the message is appended to the file (or, ending in `/`,
//!   delivered to that Maildir);
//! - `:include:/path`: the targets listed in that file, one or more per
//!   line, `#` comments allowed; commands and files are refused inside an
//!   included file;
//! - `user@domain`: an address (ours: resolved again; else forwarded);
//! - `name`: a local name, expanded again as an alias or delivered to that
//!   user.
//!
//! A bad entry (no `:`, an empty name, no targets, an unterminated quote,
//! a malformed target) is skipped with a [`Problem`]; for a name defined
//! twice, the first definition wins and the second draws a warning.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Problem, Severity};
use crate::fileio;

/// The most an `:include:` file may hold (it is read at every resolution).
pub(crate) const MAX_INCLUDE_BYTES: u64 = 1024 * 1024;

/// One target of an alias, as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum AliasTarget {
    /// A bare local name.
    Local(String),
    /// A full address.
    Address(String),
    /// `|command`: the command text after the `|`.
    Command(String),
    /// `/path`.
    File(PathBuf),
    /// `:include:/path`.
    Include(PathBuf),
}

/// One alias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AliasEntry {
    /// The name as written (for display).
    pub name: String,
    /// The targets in order.
    pub targets: Vec<AliasTarget>,
    /// The file it came from.
    pub file: PathBuf,
    /// The line the entry starts on.
    pub line: usize,
}

/// A parsed aliases file.
#[derive(Clone, Debug, Default)]
pub(crate) struct AliasesFile {
    /// The good entries, by lower-case name (first definition wins).
    pub entries: HashMap<String, AliasEntry>,
    /// The bad entries and duplicates.
    pub problems: Vec<Problem>,
}

/// The result of checking an aliases file (`newaliases`, `postern aliases
/// check`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AliasReport {
    /// How many aliases are usable.
    pub entries: usize,
    /// Every bad or duplicate entry, and every `:include:` file that cannot
    /// be read now, in line order.
    pub problems: Vec<Problem>,
}

impl AliasReport {
    /// Whether some entry was skipped (warnings alone do not count).
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| p.severity == Severity::Error)
    }
}

/// Reads and checks the aliases file `path` (a missing file is an error
/// here: the admin asked about it).
///
/// Besides the syntax, every `:include:` file named is read, and one that
/// cannot be read (or holds a bad line) is reported.
pub fn check(path: &Path) -> Result<AliasReport, Error> {
    let text = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let parsed = parse(path, &text);
    let mut problems = parsed.problems;
    let mut entries: Vec<&AliasEntry> = parsed.entries.values().collect();
    entries.sort_by_key(|e| e.line);
    for entry in entries {
        for target in &entry.targets {
            if let AliasTarget::Include(include) = target {
                let messages = match read_include(include) {
                    Ok(parsed) => {
                        let mut messages: Vec<String> = parsed
                            .errors
                            .iter()
                            .map(|e| format!(":include:{e}"))
                            .collect();
                        let refused = parsed
                            .targets
                            .iter()
                            .any(|t| matches!(t, AliasTarget::Command(_) | AliasTarget::File(_)));
                        if refused {
                            messages.push(format!(
                                ":include:{}: holds commands or files, which are refused in included files",
                                include.display()
                            ));
                        }
                        messages
                    }
                    Err(e) => vec![e],
                };
                for message in messages {
                    problems.push(Problem::warning(path, entry.line, message));
                }
            }
        }
    }
    problems.sort();
    Ok(AliasReport {
        entries: parsed.entries.len(),
        problems,
    })
}

/// Parses the contents of the aliases file `path` (used in messages).
pub(crate) fn parse(path: &Path, text: &[u8]) -> AliasesFile {
    let mut out = AliasesFile::default();
    let mut current: Option<(usize, String)> = None;
    for (number, line) in fileio::lines(text) {
        let Ok(line) = line else {
            out.problems.push(Problem::error(
                path,
                number,
                "not valid UTF-8; line ignored",
            ));
            continue;
        };
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match current.as_mut() {
                Some((_, logical)) => {
                    logical.push(' ');
                    logical.push_str(trimmed);
                }
                None => out.problems.push(Problem::error(
                    path,
                    number,
                    "continuation line without an alias before it; line ignored",
                )),
            }
            continue;
        }
        if let Some((start, logical)) = current.take() {
            add_entry(&mut out, path, start, &logical);
        }
        current = Some((number, line.to_owned()));
    }
    if let Some((start, logical)) = current.take() {
        add_entry(&mut out, path, start, &logical);
    }
    out
}

/// Parses one logical line into `out`.
fn add_entry(out: &mut AliasesFile, path: &Path, line: usize, text: &str) {
    match parse_entry(text) {
        Ok((name, targets)) => {
            let key = name.to_lowercase();
            if let Some(first) = out.entries.get(&key) {
                out.problems.push(Problem::warning(
                    path,
                    line,
                    format!(
                        "duplicate alias {name} (first defined at line {}); this entry is ignored",
                        first.line
                    ),
                ));
                return;
            }
            out.entries.insert(
                key,
                AliasEntry {
                    name,
                    targets,
                    file: path.to_owned(),
                    line,
                },
            );
        }
        Err(reason) => out.problems.push(Problem::error(
            path,
            line,
            format!("{reason}; entry ignored"),
        )),
    }
}

/// `name: targets` into the name and its targets.
fn parse_entry(text: &str) -> Result<(String, Vec<AliasTarget>), String> {
    let (name, value) = if let Some(rest) = text.strip_prefix('"') {
        let (name, after) = take_quoted(rest).ok_or("unterminated quote in the alias name")?;
        let value = after
            .trim_start()
            .strip_prefix(':')
            .ok_or("no ':' after the alias name")?;
        (name, value)
    } else {
        let (name, value) = text.split_once(':').ok_or("no ':' after the alias name")?;
        let name = name.trim();
        if name.chars().any(char::is_whitespace) {
            return Err(format!(
                "alias name {name:?} contains white space (quote it)"
            ));
        }
        (name.to_owned(), value)
    };
    if name.is_empty() {
        return Err("empty alias name".to_owned());
    }
    if name.chars().any(char::is_control) {
        return Err("alias name contains a control character".to_owned());
    }
    let targets = parse_targets(value).map_err(|e| format!("alias {name}: {e}"))?;
    if targets.is_empty() {
        return Err(format!("alias {name} has no targets"));
    }
    Ok((name, targets))
}

/// The text of a quoted string whose opening quote is already consumed,
/// and what follows the closing quote; `\` escapes the next character.
fn take_quoted(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, text.get(i + 1..)?)),
            _ => out.push(c),
        }
    }
    None
}

/// A comma-separated list of targets (commas inside double quotes do not
/// separate); empty items are ignored.
pub(crate) fn parse_targets(value: &str) -> Result<Vec<AliasTarget>, String> {
    let mut items = Vec::new();
    let mut item = String::new();
    let mut quoted = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                item.push(c);
            }
            '\\' if quoted => {
                item.push(c);
                if let Some(next) = chars.next() {
                    item.push(next);
                }
            }
            ',' if !quoted => items.push(std::mem::take(&mut item)),
            _ => item.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote".to_owned());
    }
    items.push(item);
    items
        .iter()
        .map(|i| i.trim())
        .filter(|i| !i.is_empty())
        .map(parse_target)
        .collect()
}

/// One target, classified.
fn parse_target(item: &str) -> Result<AliasTarget, String> {
    let text = match item.strip_prefix('"') {
        Some(rest) => match take_quoted(rest) {
            Some((inner, "")) => inner,
            // A quoted local part with a domain: `"john doe"@example.org`.
            _ => item.to_owned(),
        },
        None => item.to_owned(),
    };
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("target {item:?} contains a control character"));
    }
    if let Some(command) = text.strip_prefix('|') {
        let command = command.trim();
        if command.is_empty() {
            return Err("empty command after '|'".to_owned());
        }
        return Ok(AliasTarget::Command(command.to_owned()));
    }
    if text.starts_with('/') {
        return Ok(AliasTarget::File(PathBuf::from(text)));
    }
    if text
        .get(..9)
        .is_some_and(|p| p.eq_ignore_ascii_case(":include:"))
    {
        let include = text.get(9..).unwrap_or_default().trim();
        if !include.starts_with('/') {
            return Err(format!(":include: needs an absolute path, not {include:?}"));
        }
        return Ok(AliasTarget::Include(PathBuf::from(include)));
    }
    if let Some((local, domain)) = text.rsplit_once('@') {
        let quoted_local = local.starts_with('"') && local.ends_with('"') && local.len() >= 2;
        if local.is_empty()
            || domain.is_empty()
            || domain.chars().any(|c| c.is_whitespace() || c == '"')
            || (!quoted_local && local.chars().any(char::is_whitespace))
        {
            return Err(format!("bad address {item:?}"));
        }
        return Ok(AliasTarget::Address(text));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(format!("bad local name {item:?}"));
    }
    Ok(AliasTarget::Local(text))
}

/// The targets of an `:include:` file, and its bad lines as messages.
#[derive(Debug, Default)]
pub(crate) struct Included {
    /// The good targets in order.
    pub targets: Vec<AliasTarget>,
    /// `PATH:LINE: reason` for each bad line.
    pub errors: Vec<String>,
}

/// Reads an `:include:` file (at most [`MAX_INCLUDE_BYTES`]); `Err` is
/// the message for a file that cannot be read.
pub(crate) fn read_include(path: &Path) -> Result<Included, String> {
    let text = fileio::read_trusted(path, MAX_INCLUDE_BYTES)
        .map_err(|e| format!(":include:{}: cannot read: {e}", path.display()))?;
    let mut out = Included::default();
    for (number, line) in fileio::lines(&text) {
        let Ok(line) = line else {
            out.errors
                .push(format!("{}:{number}: not valid UTF-8", path.display()));
            continue;
        };
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_targets(trimmed) {
            Ok(targets) => out.targets.extend(targets),
            Err(e) => out.errors.push(format!("{}:{number}: {e}", path.display())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
