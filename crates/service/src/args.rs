//! The command line master gives every daemon.

use std::path::PathBuf;

use clap::Parser;

/// Arguments master passes to a daemon.
///
/// `master` builds this command line from the service's `master.cf` row, so the daemon
/// and master always agree on the overrides in force (even if master.cf was edited
/// since without a reload).
#[derive(Debug, Clone, Parser)]
#[command(disable_help_subcommand = true)]
pub struct Args {
    /// Configuration directory (main.cf, master.cf).
    #[arg(short = 'c', value_name = "DIR", default_value = "/etc/postern")]
    pub config_dir: PathBuf,
    /// The master.cf service name (e.g. `127.0.0.1:2525` or `qmgr`).
    #[arg(short = 'n', value_name = "SERVICE", default_value = "")]
    pub service_name: String,
    /// The master.cf service type (`inet`, `unix`).
    #[arg(short = 't', value_name = "TYPE", default_value = "")]
    pub service_type: String,
    /// A `name=value` main.cf override from master.cf's `-o`.
    #[arg(short = 'o', value_name = "NAME=VALUE", value_parser = parse_override)]
    pub overrides: Vec<(String, String)>,
    /// Keep root privileges (master.cf `unpriv` column is `n`).
    #[arg(short = 'P')]
    pub privileged: bool,
    /// More verbose logging (debug level).
    #[arg(short = 'v')]
    pub verbose: bool,
    /// Service-specific arguments from master.cf.
    #[arg(last = true)]
    pub rest: Vec<String>,
}

fn parse_override(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("expected name=value, got {arg:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_command_line_parses() {
        let args = Args::try_parse_from([
            "smtpd",
            "-c",
            "/etc/postern",
            "-n",
            "127.0.0.1:2525",
            "-t",
            "inet",
            "-o",
            "message_size_limit=100",
            "-o",
            "myhostname = mx.example",
            "-v",
            "--",
            "crash-if-exists=/x",
        ])
        .unwrap();
        assert_eq!(args.service_name, "127.0.0.1:2525");
        assert_eq!(args.service_type, "inet");
        assert_eq!(
            args.overrides,
            vec![
                ("message_size_limit".into(), "100".into()),
                ("myhostname".into(), "mx.example".into())
            ]
        );
        assert!(args.verbose);
        assert!(!args.privileged);
        assert_eq!(args.rest, vec!["crash-if-exists=/x"]);
    }

    #[test]
    fn override_without_equals_is_refused() {
        assert!(Args::try_parse_from(["smtpd", "-o", "junk"]).is_err());
    }
}
