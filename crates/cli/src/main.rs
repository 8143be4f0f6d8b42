//! # postern: control the Postern mail system
//!
//! `postern [-c DIR] COMMAND`, where DIR is the configuration directory
//! (`/etc/postern` by default):
//!
//! - `start`: check the configuration, run `master` in the background and wait until
//!   it answers.
//! - `stop`: ask master to stop (SIGTERM) and wait until it is gone.
//! - `reload`: check the configuration, then ask master to re-read it (SIGHUP).
//! - `status`: whether master runs, and each service's processes, uptime and restarts.
//! - `check`: check the configuration and print its warnings.
//! - `config [-n | -d] [NAME...]`: print parameters like `postconf`: every effective
//!   value, only those set in main.cf (`-n`), or the defaults (`-d`).
//! - `user add|passwd [--scheme S] USER@DOMAIN`, `user del USER@DOMAIN`, `user list`:
//!   edit the users file, the first `passwd-file:` table of `virtual_user_maps`
//!   ([`users`]). The daemons notice the change by themselves.
//! - `aliases check`: check every file of `alias_maps` ([`aliases`]).
//! - `queue list|summary|show|flush|delete|hold|release|requeue`: the queue tools
//!   ([`queue`], which has their exit statuses). `mailq` is `postern queue list`.
//!
//! The same binary is `newaliases` when invoked under that name (install makes a
//! symbolic link): `newaliases [-c DIR | -C DIR]` is a quiet `postern aliases
//! check`. Postern reads the aliases files themselves and re-reads them when they
//! change, so there is no database to rebuild; checking is all that is left to do.
//! [`run`] is the one place that looks at the program name.
//!
//! # Security
//! Runs as the calling user and trusts nothing it reads except the configuration
//! directory it was given. Stopping and reloading need the right to signal master
//! (root in production); status needs to be root or `mail_owner`. The user commands
//! need write access to the users file and its directory; a new password is read from
//! the terminal with echo off, or from standard input, never from the command line,
//! where any local user could see it with `ps`.
//!
//! # Exit status
//! 0 on success; 1 when master is not running (or already running, for `start`); 78
//! (`EX_CONFIG`) for a configuration error; 65 (`EX_DATAERR`) for a bad user name, an
//! empty password or errors in an aliases file; 67 (`EX_NOUSER`) for an unknown user;
//! 73 (`EX_CANTCREAT`) for a user that already exists; other sysexits codes (64-77)
//! for other failures.

mod aliases;
mod commands;
mod pickup;
mod queue;
mod running;
mod secret;
mod sendmail;
mod users;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use accounts::password::HashScheme;
use clap::{Parser, Subcommand};

/// The configuration directory when none is given.
const DEFAULT_CONFIG_DIR: &str = "/etc/postern";

/// Command line of `postern`.
#[derive(Debug, Parser)]
#[command(version, about = "Control the Postern mail system")]
struct Cli {
    /// Configuration directory (main.cf, master.cf).
    #[arg(
        short = 'c',
        value_name = "DIR",
        default_value = DEFAULT_CONFIG_DIR,
        global = true
    )]
    config_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the mail system in the background.
    Start,
    /// Stop the mail system.
    Stop,
    /// Re-read the configuration without a restart.
    Reload,
    /// Show master and each service's processes.
    Status,
    /// Check the configuration and print its warnings.
    Check,
    /// Print configuration parameters, like postconf.
    Config {
        /// Only parameters set explicitly in main.cf.
        #[arg(short = 'n', conflicts_with = "defaults")]
        non_default: bool,
        /// Default values instead of the effective ones.
        #[arg(short = 'd')]
        defaults: bool,
        /// Parameter names (all parameters when none is given).
        names: Vec<String>,
    },
    /// Add, change, remove or list virtual users (the users file).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Check the aliases files.
    Aliases {
        #[command(subcommand)]
        command: AliasesCommand,
    },
    /// List, inspect and manage queued mail (mailq, postsuper, postcat, qshape).
    Queue {
        #[command(subcommand)]
        command: queue::Command,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user. The password is read from the terminal (twice, not shown) or, when
    /// standard input is not a terminal, as one line from it.
    Add {
        /// Password scheme: argon2id or sha512-crypt.
        #[arg(long, value_name = "SCHEME", default_value = "argon2id", value_parser = parse_scheme)]
        scheme: HashScheme,
        /// The user, as user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        user: String,
    },
    /// Change a user's password, read as for `add`.
    Passwd {
        /// Password scheme: argon2id or sha512-crypt.
        #[arg(long, value_name = "SCHEME", default_value = "argon2id", value_parser = parse_scheme)]
        scheme: HashScheme,
        /// The user, as user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        user: String,
    },
    /// Remove a user (mail already delivered stays in the mailbox).
    Del {
        /// The user, as user@domain.
        #[arg(value_name = "USER@DOMAIN")]
        user: String,
    },
    /// List the users: name, password scheme, uid and gid.
    List,
}

#[derive(Debug, Subcommand)]
enum AliasesCommand {
    /// Check every file of alias_maps: print bad lines and how many aliases each has.
    Check,
}

/// A `--scheme` value, in any case, braces optional.
fn parse_scheme(text: &str) -> Result<HashScheme, String> {
    text.parse::<HashScheme>().map_err(|_| {
        format!("{text:?} is not a scheme for new passwords (argon2id or sha512-crypt)")
    })
}

/// A failed command: the message for standard error and the exit code.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// A failure with exit code `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// An error with its whole `source` chain, for one line of standard error.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

fn main() -> ExitCode {
    let (program, result) = run(std::env::args_os().collect());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // An empty message was printed already (clap's usage errors).
            if !failure.message.is_empty() {
                eprintln!("{program}: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}

/// Runs the program this binary was invoked as (argv\[0\]'s file name), and
/// returns that name for messages with the result.
///
fn run(args: Vec<OsString>) -> (&'static str, Result<(), Failure>) {
    let name = args
        .first()
        .map(Path::new)
        .and_then(Path::file_name)
        .and_then(OsStr::to_str);
    let rest = args.get(1..).unwrap_or_default();
    match name {
        Some("newaliases") => ("newaliases", aliases::newaliases(rest)),
        Some("sendmail") => ("sendmail", sendmail::sendmail(rest)),
        Some("mailq") => ("mailq", queue::mailq(rest)),
        _ => ("postern", postern(args)),
    }
}

/// The `postern` command line.
fn postern(args: Vec<OsString>) -> Result<(), Failure> {
    // Usage errors exit 64 (EX_USAGE) like the rest; help and version 0.
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return match error.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Ok(())
                }
                _ => Err(Failure::new(service::exit::USAGE, String::new())),
            };
        }
    };
    let dir = cli.config_dir;
    match cli.command {
        Command::Start => commands::start(&dir),
        Command::Stop => commands::stop(&dir),
        Command::Reload => commands::reload(&dir),
        Command::Status => commands::status(&dir),
        Command::Check => commands::check(&dir),
        Command::Config {
            non_default,
            defaults,
            names,
        } => commands::config(&dir, non_default, defaults, &names),
        Command::User { command } => match command {
            UserCommand::Add { scheme, user } => users::add(&dir, scheme, &user),
            UserCommand::Passwd { scheme, user } => users::passwd(&dir, scheme, &user),
            UserCommand::Del { user } => users::del(&dir, &user),
            UserCommand::List => users::list(&dir),
        },
        Command::Aliases {
            command: AliasesCommand::Check,
        } => aliases::check(&dir),
        Command::Queue { command } => queue::run(&dir, command),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn schemes_parse_in_any_case() {
        for (text, want) in [
            ("argon2id", Some(HashScheme::Argon2id)),
            ("ARGON2ID", Some(HashScheme::Argon2id)),
            ("sha512-crypt", Some(HashScheme::Sha512Crypt)),
            ("{SHA512-CRYPT}", Some(HashScheme::Sha512Crypt)),
            ("plain", None),
            ("md5", None),
        ] {
            assert_eq!(parse_scheme(text).ok(), want, "{text}");
        }
    }

    #[test]
    fn the_command_line_parses() {
        Cli::command().debug_assert();
        let cli = Cli::parse_from(["postern", "user", "add", "a@example.org"]);
        assert!(matches!(
            cli.command,
            Command::User {
                command: UserCommand::Add {
                    scheme: HashScheme::Argon2id,
                    ..
                }
            }
        ));
        let cli = Cli::try_parse_from([
            "postern",
            "-c",
            "/x",
            "user",
            "passwd",
            "--scheme",
            "sha512-crypt",
            "a@example.org",
        ])
        .unwrap();
        assert_eq!(cli.config_dir, Path::new("/x"));
        assert!(matches!(
            cli.command,
            Command::User {
                command: UserCommand::Passwd {
                    scheme: HashScheme::Sha512Crypt,
                    ..
                }
            }
        ));
        // No way to give a password on the command line.
        assert!(
            Cli::try_parse_from(["postern", "user", "add", "a@example.org", "secret"]).is_err()
        );
    }
}
