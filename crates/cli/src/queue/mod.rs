//! `postern queue ...` and `mailq`: the queue tools (Postfix's mailq, postqueue,
//! postsuper, postcat and qshape in one place).
//!
//! - `list [--json]` (and `mailq`): every queued message in mailq's layout, or one
//!   JSON object per line as `postqueue -j` prints them ([`list`]).
//! - `summary [QUEUE...]`: pending recipients per domain by age, like qshape
//!   ([`summary`]).
//! - `show ID [--envelope] [--headers] [--body]`: a queued message, like postcat
//!   ([`show`]).
//! - `flush [ID|DOMAIN...]`: retry deferred mail now: all of it, these messages, or
//!   those with a recipient in these domains.
//! - `delete|hold|release|requeue ID...|ALL [QUEUE...]`: postsuper's `-d`, `-h`,
//!   `-H` and `-r` ([`control`]).
//!
//! An argument `-` reads more arguments from standard input, one per line
//! (`postern queue list --json | jq -r ... | postern queue hold -`).
//!
//! # Security
//! The spool is mail_owner's (mode 0700). Listing, flushing and summaries work
//! directly on it for root and `mail_owner`; other users will go through the
//! `pickup` daemon's public socket, which identifies them by `SO_PEERCRED`.
//! Everything else is for root and `mail_owner` only, decided by the real uid,
//! and is refused otherwise with exit status 77 before anything is read. Queue IDs
//! and queue names from the command line are checked before they come near a
//! path ([`spool::QueueId::parse`], [`spool::Queue::from_name`]).
//!
//! # Exit status
//! 0 on success; 1 when a queue ID names no message the command applies to ("no
//! such message"; the others are still done); 64 (`EX_USAGE`) for a bad argument,
//! queue ID or queue name; 65 (`EX_DATAERR`) when `show` finds a damaged queue file;
//! 74 (`EX_IOERR`) when the spool cannot be read or changed; 75 (`EX_TEMPFAIL`)
//! when qmgr holds its lock but does not answer; 77 (`EX_NOPERM`) for a caller who
//! is neither root nor `mail_owner`; 78 (`EX_CONFIG`) for a configuration error.

mod control;
mod list;
mod show;
mod summary;

use std::ffi::OsString;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use config::Config;
use nix::unistd::{Uid, User};
use service::exit;
use spool::{Queue, Spool};

use crate::commands::load;
use crate::{DEFAULT_CONFIG_DIR, Failure};

/// `postern queue` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List queued mail like mailq: ID (`*` active, `!` on hold), size, arrival,
    /// sender, and the pending recipients with the reason of their last failure.
    List {
        /// One JSON object per message and line, as `postqueue -j` prints them.
        #[arg(long)]
        json: bool,
    },
    /// Pending recipients per domain and age (minutes), like qshape.
    Summary {
        /// The queues to count (default: incoming, active, deferred).
        #[arg(value_name = "QUEUE")]
        queues: Vec<String>,
    },
    /// Print a queued message: envelope, headers and body, like postcat.
    Show {
        /// The queue ID.
        id: String,
        /// Only the envelope.
        #[arg(long)]
        envelope: bool,
        /// Only the header section.
        #[arg(long)]
        headers: bool,
        /// Only the body.
        #[arg(long)]
        body: bool,
    },
    /// Retry deferred mail now: all of it, or these queue IDs or recipient domains.
    Flush {
        /// Queue IDs and domains; `-` reads them from standard input.
        #[arg(value_name = "ID|DOMAIN")]
        targets: Vec<String>,
    },
    /// Remove messages without notice (postsuper -d).
    Delete {
        /// Queue IDs, or ALL and optionally queue names; `-` reads them from standard input.
        #[arg(value_name = "ID|ALL|QUEUE")]
        targets: Vec<String>,
    },
    /// Keep messages from delivery in hold/ (postsuper -h).
    Hold {
        /// Queue IDs, or ALL and optionally queue names; `-` reads them from standard input.
        #[arg(value_name = "ID|ALL|QUEUE")]
        targets: Vec<String>,
    },
    /// Release held messages for delivery now (postsuper -H).
    Release {
        /// Queue IDs, or ALL; `-` reads them from standard input.
        #[arg(value_name = "ID|ALL|QUEUE")]
        targets: Vec<String>,
    },
    /// Deliver messages again from incoming/ now (postsuper -r).
    Requeue {
        /// Queue IDs, or ALL and optionally queue names; `-` reads them from standard input.
        #[arg(value_name = "ID|ALL|QUEUE")]
        targets: Vec<String>,
    },
}

/// Runs `postern queue COMMAND`.
pub fn run(dir: &Path, command: Command) -> Result<(), Failure> {
    let config = load(dir)?;
    // Warnings from the spool (a damaged file skipped in a listing) on stderr.
    service::logging::init_stderr("postern", false);
    let queue = QueueDir::new(&config);
    match command {
        Command::List { json } => list::list(&queue, json),
        Command::Summary { queues } => summary::summary(&queue, &queues),
        Command::Show {
            id,
            envelope,
            headers,
            body,
        } => show::show(&queue, &id, show::Parts::chosen(envelope, headers, body)),
        Command::Flush { targets } => control::flush(&queue, &expand_stdin(targets)?),
        Command::Delete { targets } => {
            control::operate(&queue, spool::Operation::Delete, &expand_stdin(targets)?)
        }
        Command::Hold { targets } => {
            control::operate(&queue, spool::Operation::Hold, &expand_stdin(targets)?)
        }
        Command::Release { targets } => {
            control::operate(&queue, spool::Operation::Release, &expand_stdin(targets)?)
        }
        Command::Requeue { targets } => {
            control::operate(&queue, spool::Operation::Requeue, &expand_stdin(targets)?)
        }
    }
}

/// `mailq [-c DIR | -C DIR]`: `postern queue list`; `args` are the arguments after
/// the program name. Other sendmail options are ignored with a warning, so scripts
/// written for sendmail or Postfix keep working.
pub fn mailq(args: &[OsString]) -> Result<(), Failure> {
    let mut dir = PathBuf::from(DEFAULT_CONFIG_DIR);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy();
        match ["-c", "-C"].into_iter().find(|flag| text.starts_with(flag)) {
            Some(flag) => {
                let attached = text.get(flag.len()..).unwrap_or_default();
                dir = if attached.is_empty() {
                    args.next().map(PathBuf::from).ok_or_else(|| {
                        Failure::new(exit::USAGE, format!("option {flag} needs a directory"))
                    })?
                } else {
                    PathBuf::from(attached)
                };
                // sendmail's -C names a file; its directory is what we want.
                if flag == "-C" && dir.is_file() {
                    dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
                }
            }
            None => eprintln!("mailq: warning: ignoring {text}"),
        }
    }
    run(&dir, Command::List { json: false })
}

/// The queue directory and who is asking.
pub struct QueueDir {
    /// The spool.
    spool: Spool,
    /// `mail_owner`'s name, for messages.
    mail_owner: String,
    /// The caller is root or `mail_owner` (by the real uid).
    privileged: bool,
}

impl QueueDir {
    fn new(config: &Config) -> Self {
        let uid = Uid::current();
        let mail_owner = config.params.mail_owner.clone();
        let privileged = uid.is_root()
            || User::from_name(&mail_owner)
                .ok()
                .flatten()
                .is_some_and(|owner| owner.uid == uid);
        QueueDir {
            spool: Spool::new(&config.params.queue_directory),
            mail_owner,
            privileged,
        }
    }

    /// Refuses callers other than root and `mail_owner`.
    fn require_privilege(&self, what: &str) -> Result<(), Failure> {
        if self.privileged {
            return Ok(());
        }
        Err(Failure::new(
            exit::NOPERM,
            format!(
                "permission denied: only root and mail_owner ({}) may {what}",
                self.mail_owner
            ),
        ))
    }
}

/// The default queues of a listing: everything waiting for delivery or held.
const LISTED_QUEUES: [Queue; 4] = [Queue::Incoming, Queue::Active, Queue::Deferred, Queue::Hold];

/// Lists `queues` directly (root and mail_owner) or through pickup (other users).
fn listing(queue: &QueueDir, queues: &[Queue]) -> Result<Vec<spool::Listed>, Failure> {
    if !queue.privileged {
        let all = list_via_pickup(queue)?;
        return Ok(all
            .into_iter()
            .filter(|l| queues.contains(&l.queue))
            .collect());
    }
    queue.spool.listing(queues).map_err(|e| {
        Failure::new(
            exit::IOERR,
            format!("cannot read the queue: {}", crate::describe(&e)),
        )
    })
}

/// The listing for a user who may not read the spool, from the `pickup` daemon
/// over `public/pickup` (which checks `authorized_mailq_users`).
fn list_via_pickup(queue: &QueueDir) -> Result<Vec<spool::Listed>, Failure> {
    crate::pickup::list(queue.spool.root())
}

/// Writes `bytes` to standard output; a reader that went away (`| head`) is fine.
fn output(bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::new(exit::IOERR, format!("write: {e}"))),
    }
}

/// A time (seconds since the epoch) in the local time zone, in `format`
/// (strftime); `??` if it cannot be shown.
fn local_time(secs: u64, format: &str) -> String {
    use chrono::TimeZone;
    i64::try_from(secs)
        .ok()
        .and_then(|secs| chrono::Local.timestamp_opt(secs, 0).single())
        .map_or_else(|| "??".to_owned(), |t| t.format(format).to_string())
}

/// Seconds since the epoch, now.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Replaces each `-` argument by the lines of standard input (trimmed, empty ones
/// skipped), as postsuper does.
fn expand_stdin(args: Vec<String>) -> Result<Vec<String>, Failure> {
    if !args.iter().any(|a| a == "-") {
        return Ok(args);
    }
    let stdin = std::io::stdin();
    expand_from(args, &mut stdin.lock())
}

/// [`expand_stdin`] reading from `input`.
fn expand_from(args: Vec<String>, input: &mut dyn BufRead) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    let mut read = false;
    for arg in args {
        if arg != "-" {
            out.push(arg);
            continue;
        }
        if read {
            return Err(Failure::new(
                exit::USAGE,
                "standard input can be read only once (one - argument)",
            ));
        }
        read = true;
        for line in input.lines() {
            let line =
                line.map_err(|e| Failure::new(exit::IOERR, format!("read standard input: {e}")))?;
            let line = line.trim();
            if !line.is_empty() {
                out.push(line.to_owned());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dash_reads_arguments_from_standard_input() {
        let args = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let mut input: &[u8] = b"AAA\n\n  BBB  \nALL\n";
        assert_eq!(
            expand_from(args(&["X", "-", "deferred"]), &mut input).ok(),
            Some(args(&["X", "AAA", "BBB", "ALL", "deferred"]))
        );
        let mut input: &[u8] = b"A\n";
        assert!(expand_from(args(&["-", "-"]), &mut input).is_err());
        let mut input: &[u8] = b"";
        assert_eq!(expand_from(args(&["-"]), &mut input).ok(), Some(vec![]));
    }
}
