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
//!
//! # Security
//! Runs as the calling user and trusts nothing it reads except the configuration
//! directory it was given. Stopping and reloading need the right to signal master
//! (root in production); status needs to be root or `mail_owner`.
//!
//! # Exit status
//! 0 on success; 1 when master is not running (or already running, for `start`); 78
//! (`EX_CONFIG`) for a configuration error; 69-75 (sysexits) for other failures.

mod commands;
mod running;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Command line of `postern`.
#[derive(Debug, Parser)]
#[command(version, about = "Control the Postern mail system")]
struct Cli {
    /// Configuration directory (main.cf, master.cf).
    #[arg(
        short = 'c',
        value_name = "DIR",
        default_value = "/etc/postern",
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
}

/// A failed command: the message for standard error and the exit code.
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = cli.config_dir;
    let result = match cli.command {
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("postern: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
