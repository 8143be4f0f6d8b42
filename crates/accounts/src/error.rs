//! Errors (what stops an operation) and problems (a bad line that is
//! skipped while the rest of the file is used).

use std::fmt;
use std::path::PathBuf;

use crate::password::SchemeError;

/// Why an accounts operation failed.
///
/// Every variant names what it is about (a file, a user, a lookup table),
/// and a foreign error is kept as the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A users, aliases or include file exists but could not be read
    /// (permission, a directory where a file should be, a dangling
    /// symbolic link, an I/O error).
    #[error("cannot read {}", .path.display())]
    Read {
        /// The file we tried to read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A step of replacing the users file failed; the file is unchanged.
    #[error("cannot update {}: {step}", .path.display())]
    Write {
        /// The users file being edited.
        path: PathBuf,
        /// The step that failed ("create temporary file", "fsync", "rename", ...).
        step: &'static str,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The lock on the users file could not be taken.
    #[error("cannot lock {}", .path.display())]
    Lock {
        /// The users file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A lookup table type this crate does not read (`mysql:...` in
    /// `virtual_user_maps`, `ldap:...` in `alias_maps`).
    #[error("{param}: unsupported lookup table {map:?} (supported: {supported})")]
    UnsupportedMap {
        /// The parameter naming the table.
        param: &'static str,
        /// The table as written.
        map: String,
        /// What would have been accepted, for the message.
        supported: &'static str,
    },

    /// `users_file::add` for a user that is already in the file.
    #[error("{}: user {user} already exists", .path.display())]
    UserExists {
        /// The users file.
        path: PathBuf,
        /// The user name as given.
        user: String,
    },

    /// `users_file::set_password` or `delete` for a user not in the file.
    #[error("{}: no such user {user}", .path.display())]
    UserNotFound {
        /// The users file.
        path: PathBuf,
        /// The user name as given.
        user: String,
    },

    /// A user name that cannot go into the users file.
    #[error("invalid user name {user:?}: {reason}")]
    BadUserName {
        /// The name as given.
        user: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A password hash that cannot go into the users file.
    #[error("invalid password hash")]
    BadHash {
        /// Why it was refused.
        #[source]
        source: SchemeError,
    },

    /// A new password hash could not be made.
    #[error("cannot hash the password")]
    Hash {
        /// What failed.
        #[source]
        source: SchemeError,
    },
}

/// How serious a [`Problem`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The line was skipped.
    Error,
    /// The line was used, or ignored on purpose (a duplicate), but is
    /// probably a mistake.
    Warning,
}

/// One bad line in a users or aliases file.
///
/// Problems do not stop loading: the line is skipped (or, for a duplicate,
/// the first definition is kept) and the rest of the file is used. They are
/// logged every time the file is (re)loaded and kept for
/// `postern aliases check` and similar tools.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Problem {
    /// The file the line is in.
    pub file: PathBuf,
    /// The line number (1-based; the first line of a continued entry).
    pub line: usize,
    /// Whether the line was skipped.
    pub severity: Severity,
    /// What is wrong, in words.
    pub message: String,
}

impl Problem {
    /// A problem that made the line be skipped.
    pub(crate) fn error(
        file: &std::path::Path,
        line: usize,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            file: file.to_owned(),
            line,
            severity: Severity::Error,
            message: message.into(),
        }
    }

    /// A problem that did not stop the line from being used.
    pub(crate) fn warning(
        file: &std::path::Path,
        line: usize,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            file: file.to_owned(),
            line,
            severity: Severity::Warning,
            message: message.into(),
        }
    }

    /// Logs the problem: an error for a skipped line, a warning otherwise.
    pub(crate) fn log(&self) {
        match self.severity {
            Severity::Error => tracing::error!("{self}"),
            Severity::Warning => tracing::warn!("{self}"),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// An error with its whole `source` chain, for one log line.
pub(crate) fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}
