//! Deliveries that run as another user: this program again, started with
//! `--deliver`, already switched to the recipient's uid and gid by the parent (which
//! is root), reading the message on standard input and writing one result line.
//!
//! The same [`perform`] runs in-process when the recipient is the agent's own user.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipc::deliver::Outcome;
use mailstore::{DeliverOptions, Maildir};

use crate::agent::{Ids, Message, Settings};

/// The first argument that selects the child mode.
pub const FLAG: &str = "--deliver";

/// One write into a user's storage.
#[derive(Debug, Clone)]
pub enum Job {
    /// Deliver into this Maildir, within this quota.
    Maildir { path: PathBuf, quota: Option<u64> },
    /// Append to this mbox file.
    Mbox {
        path: PathBuf,
        sender: String,
        arrival: SystemTime,
    },
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Result {
    Delivered(String),
    Temporary(String),
    Permanent(String),
    OverQuota(String),
    /// The file system is full: temporary, "mail system full" (4.3.1).
    NoSpace(String),
}

impl Result {
    /// The outcome reported to qmgr.
    pub fn into_outcome(self, settings: &Settings) -> Outcome {
        match self {
            Result::Delivered(text) => Outcome::Sent {
                relay: "local".into(),
                text,
            },
            Result::Temporary(text) => Outcome::Deferred {
                status: "4.3.0".into(),
                text,
            },
            Result::Permanent(text) => Outcome::Failed {
                status: "5.2.0".into(),
                text,
            },
            Result::OverQuota(text) if settings.quota_temporary => Outcome::Deferred {
                status: "4.2.2".into(),
                text,
            },
            Result::OverQuota(text) => Outcome::Failed {
                status: "5.2.2".into(),
                text,
            },
            Result::NoSpace(text) => Outcome::Deferred {
                status: "4.3.1".into(),
                text,
            },
        }
    }

    fn to_line(&self) -> String {
        let (word, text) = match self {
            Result::Delivered(t) => ("ok", t),
            Result::Temporary(t) => ("temporary", t),
            Result::Permanent(t) => ("permanent", t),
            Result::OverQuota(t) => ("quota", t),
            Result::NoSpace(t) => ("nospace", t),
        };
        format!("{word} {}\n", text.replace('\n', " "))
    }

    fn from_line(line: &str) -> Self {
        let (word, text) = line
            .trim_end()
            .split_once(' ')
            .unwrap_or((line.trim_end(), ""));
        let text = text.to_owned();
        match word {
            "ok" => Result::Delivered(text),
            "permanent" => Result::Permanent(text),
            "quota" => Result::OverQuota(text),
            "temporary" => Result::Temporary(text),
            "nospace" => Result::NoSpace(text),
            _ => Result::Temporary(format!("delivery process said {line:?}")),
        }
    }
}

fn from_store(e: &mailstore::Error) -> Result {
    if e.is_over_quota() {
        Result::OverQuota(format!("mailbox full: {e}"))
    } else if e.is_no_space() {
        Result::NoSpace(format!("maildir delivery failed: {e}"))
    } else if e.is_temporary() {
        Result::Temporary(format!("maildir delivery failed: {e}"))
    } else {
        Result::Permanent(format!("maildir delivery failed: {e}"))
    }
}

/// Does `job` here, as the current user, reading the message (with its prefix lines)
/// from `input`.
pub fn perform(job: &Job, input: &mut dyn Read) -> Result {
    match job {
        Job::Maildir { path, quota } => {
            let maildir = Maildir::new(path);
            let options = DeliverOptions {
                quota_bytes: *quota,
                quota_messages: None,
                create_mode: Some(0o700),
            };
            match maildir.deliver(input, b"", &options) {
                Ok(_) => Result::Delivered("delivered to maildir".into()),
                Err(e) => from_store(&e),
            }
        }
        Job::Mbox {
            path,
            sender,
            arrival,
        } => match mailstore::mbox::append(path, sender, *arrival, input) {
            Ok(()) => Result::Delivered(format!("delivered to file: {}", path.display())),
            Err(e) if e.is_no_space() => Result::NoSpace(format!("cannot append to file: {e}")),
            Err(e) if e.is_temporary() => Result::Temporary(format!("cannot append to file: {e}")),
            Err(e) => Result::Permanent(format!("cannot append to file: {e}")),
        },
    }
}

/// Runs `job` in a child process switched to `ids` (the caller is root).
pub fn spawn(job: &Job, ids: Ids, message: &Message, prefix: &[u8]) -> Result {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return Result::Temporary(format!("cannot find my own program: {e}")),
    };
    let size = prefix.len() as u64 + message.file.message_size();
    let mut command = Command::new(exe);
    command.arg(FLAG).arg(size.to_string());
    match job {
        Job::Maildir { path, quota } => {
            command
                .arg("maildir")
                .arg(path)
                .arg(quota.map_or_else(|| "-".to_owned(), |q| q.to_string()));
        }
        Job::Mbox {
            path,
            sender,
            arrival,
        } => {
            let secs = arrival
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            command
                .arg("mbox")
                .arg(path)
                .arg(sender)
                .arg(secs.to_string());
        }
    }
    command
        .uid(ids.uid)
        .gid(ids.gid)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Result::Temporary(format!("cannot start delivery as uid {}: {e}", ids.uid));
        }
    };
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            if let Some(mut stdin) = stdin {
                let mut input = prefix.chain(message.file.message());
                let _ = std::io::copy(&mut input, &mut stdin);
            }
        });
        let mut line = String::new();
        if let Some(stdout) = stdout {
            let _ = BufReader::new(stdout.take(4096)).read_line(&mut line);
        }
        let _ = child.wait();
        if line.is_empty() {
            Result::Temporary("delivery process ended without a result".into())
        } else {
            Result::from_line(&line)
        }
    })
}

/// Reads exactly `left` bytes from `inner`; an end of input before that is an error,
/// so that a message cut short (the parent killed, the queue file unreadable) is never
/// stored as if it were whole.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.by_ref().take(self.left).read(buf)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("message cut short, {} bytes missing", self.left),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The child side: `local --deliver SIZE maildir PATH QUOTA|-` or
/// `local --deliver SIZE mbox PATH SENDER ARRIVAL`, where SIZE is the exact number of
/// bytes that follow on standard input.
pub fn main() -> ExitCode {
    let mut args = std::env::args().skip(2);
    let Some(size) = args.next().and_then(|s| s.parse::<u64>().ok()) else {
        return ExitCode::from(service::exit::USAGE);
    };
    let args: Vec<String> = args.collect();
    let job = match args.as_slice() {
        [kind, path, quota] if kind == "maildir" => Job::Maildir {
            path: PathBuf::from(path),
            quota: quota.parse().ok(),
        },
        [kind, path, sender, arrival] if kind == "mbox" => Job::Mbox {
            path: PathBuf::from(path),
            sender: sender.clone(),
            arrival: UNIX_EPOCH + Duration::from_secs(arrival.parse().unwrap_or(0)),
        },
        _ => return ExitCode::from(service::exit::USAGE),
    };
    let mut input = Exact {
        inner: std::io::stdin().lock(),
        left: size,
    };
    let result = perform(&job, &mut input);
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(result.to_line().as_bytes()).is_err() {
        return ExitCode::from(service::exit::IOERR);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_reader_refuses_input_that_ends_early() {
        let mut whole = Exact {
            inner: &b"0123456789"[..],
            left: 10,
        };
        let mut out = Vec::new();
        whole.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"0123456789");

        let mut short = Exact {
            inner: &b"01234"[..],
            left: 10,
        };
        let err = short.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    /// See: issue 11. A full file system defers with 4.3.1, whether the
    /// delivery ran here or in a child that reported it in its result line.
    #[test]
    fn full_file_system_defers_as_mail_system_full() {
        let settings = Settings {
            quota_bytes: None,
            quota_temporary: false,
            mail_owner: Ids { uid: 1, gid: 1 },
            default_privs: Ids { uid: 2, gid: 2 },
            command_time_limit: Duration::from_secs(1),
            commands_allowed: true,
            euid: 1,
        };
        let full = mailstore::Error::Io {
            op: "write",
            path: PathBuf::from("/mail/a/tmp/x"),
            source: std::io::Error::from_raw_os_error(nix::libc::ENOSPC),
        };
        let denied = mailstore::Error::Io {
            op: "write",
            path: PathBuf::from("/mail/a/tmp/x"),
            source: std::io::Error::from_raw_os_error(nix::libc::EACCES),
        };
        for (name, error, want) in [("ENOSPC", full, "4.3.1"), ("EACCES", denied, "4.3.0")] {
            let result = from_store(&error);
            let relayed = Result::from_line(&result.to_line());
            assert_eq!(relayed, result, "{name}");
            match relayed.into_outcome(&settings) {
                Outcome::Deferred { status, text } => {
                    assert_eq!(status, want, "{name}");
                    assert!(
                        text.starts_with("maildir delivery failed: "),
                        "{name}: {text}"
                    );
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn exact_reader_stops_at_the_announced_size() {
        let mut long = Exact {
            inner: &b"0123456789"[..],
            left: 4,
        };
        let mut out = Vec::new();
        long.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"0123");
    }
}
