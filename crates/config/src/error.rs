//! Errors and warnings: every one names the file and line it is about.

use std::fmt;
use std::path::PathBuf;

/// Why the configuration could not be loaded.
///
/// Every variant that is about the content of a file names the file (as
/// given, usually absolute) and the line, so an admin can go straight to it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration file (or the directory) could not be read.
    #[error("cannot read {}", .path.display())]
    Io {
        /// The file or directory we tried to read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A line that does not follow the file's syntax.
    #[error("{}:{line}: {reason}", .file.display())]
    Syntax {
        /// main.cf or master.cf.
        file: PathBuf,
        /// The line where the logical line starts (1-based).
        line: usize,
        /// What is wrong, in words.
        reason: String,
    },

    /// A parameter whose (expanded) value is not valid for its kind.
    ///
    /// For a value that comes from a built-in default, `file` is main.cf
    /// and `line` is 0; for a master.cf `-o` override it is master.cf and
    /// the service's line.
    #[error("{}:{line}: {param}: {reason}", .file.display())]
    BadValue {
        /// The file the value came from.
        file: PathBuf,
        /// The line the value came from (0: built-in default).
        line: usize,
        /// The parameter name.
        param: String,
        /// What is wrong, in words.
        reason: String,
    },

    /// `$name` expansion that loops (`a = $b`, `b = $a`).
    #[error(
        "{}:{line}: {param}: parameter expansion loop: {}",
        .file.display(),
        .chain.join(" -> ")
    )]
    Cycle {
        /// The file where the first parameter of the loop is set.
        file: PathBuf,
        /// The line where the first parameter of the loop is set (0: default).
        line: usize,
        /// The first parameter of the loop.
        param: String,
        /// The loop, starting and ending with `param`.
        chain: Vec<String>,
    },

    /// Two master.cf rows for the same service or the same listening address.
    #[error(
        "{}:{line}: service {service} conflicts with the one defined at line {first_line}",
        .file.display()
    )]
    DuplicateService {
        /// master.cf.
        file: PathBuf,
        /// The later row.
        line: usize,
        /// The earlier row.
        first_line: usize,
        /// The later row's service, as `name/type`.
        service: String,
    },

    /// `myhostname` is not set and the system host name is unavailable.
    #[error("cannot get the system host name (set myhostname in main.cf)")]
    HostName(#[source] nix::Error),

    /// `myhostname` is not set and the system host name is not UTF-8.
    #[error("the system host name {name} is not valid UTF-8 (set myhostname in main.cf)")]
    BadHostName {
        /// The host name, escaped for display.
        name: String,
    },
}

/// Something wrong that does not stop the program: an unknown parameter, an
/// undefined `$name`, an ignored setting.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    /// The file the warning is about (main.cf or master.cf).
    pub file: PathBuf,
    /// The line in that file (0: a built-in default).
    pub line: usize,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}
