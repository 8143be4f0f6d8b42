//! # postern-bench: load tests for mail servers
//!
//! A load generator in the spirit of Postfix's smtp-source and smtp-sink and Dovecot's
//! imaptest, for measuring Postern (and, for comparison, any other server):
//!
//! ```text
//! postern-bench smtp --server HOST:PORT --to ADDRESS... [--sessions 10] [--messages 5000]
//!                    [--size 2048] [--recipients 1] [--spread 1] [--from bench@example.net]
//!                    [--helo NAME] [--pipelining] [--tls | --starttls]
//!                    [--wait-maildir DIR --expect N [--wait-timeout 600s]]
//!                    [--tree PID]... [--json]
//! postern-bench sink --listen HOST:PORT [--count N] [--json]
//! postern-bench pop3 --server HOST:PORT --user U --pass P [--sessions 1] [--tls]
//!                    [--tree PID]... [--json]
//! postern-bench imap --server HOST:PORT --user U --pass P
//!                    --workload select|fetch-flags|envelope|search|store|idle
//!                    [--connections 1] [--iterations 1] [--hold 10s] [--subject x]
//!                    [--tls] [--tree PID]... [--json]
//! ```
//!
//! Each workload is one module ([`smtp`], [`sink`], [`pop3`], [`imap`]; their docs say
//! exactly what is sent and timed). All run as tasks on a multi-threaded tokio runtime,
//! one task per session or connection.
//!
//! # What is measured
//!
//! Wall time, completed operations (messages, RETRs or IMAP commands), their rate, and
//! latency percentiles per operation (p50, p99, max; [`stats`]). With `--tree PID` the
//! server's process tree is sampled from /proc every 100 ms for CPU seconds and peak
//! RSS ([`procstat`] says what that misses: processes that exit between samples).
//!
//! The measured phase is the whole run for `smtp` (connecting and EHLO included; with
//! `--wait-maildir` up to the last delivery), `sink`, `imap --workload select` and
//! `idle`. For `pop3` and the other IMAP workloads, logging in is set-up, not workload:
//! the clock and the `--tree` sampler start once every session is logged in
//! ([`start`]), and stop at the end of the last RETR or iteration.
//!
//! # Output
//!
//! A few aligned lines on stdout, or with `--json` one line of JSON with the fields
//! `workload`, `operations`, `seconds`, `rate`, `p50_ms`, `p99_ms`, `max_ms`, `bytes`,
//! `cpu_seconds`, `peak_rss_mib`, `per_connection_kib` and `errors` (null where not
//! measured). A progress line is drawn on stderr when it is a terminal.
//!
//! # Errors
//!
//! Refused commands, broken connections and unexpected answers are counted, the first
//! ten printed on stderr, and the run goes on until 100 of them. Exit status: 0 when no
//! error occurred, 1 when some did (the report is still printed), 2 when the run could
//! not start (bad arguments, unbindable address, `--tree` process missing).
//!
//! # Security
//!
//! A test tool: TLS certificates are not verified (any certificate is accepted), and
//! passwords are given on the command line, where other local users can see them in
//! the process list. Use test accounts.

mod imap;
mod maildir;
mod message;
mod net;
mod pop3;
mod procstat;
mod progress;
mod report;
mod sink;
mod smtp;
mod start;
mod stats;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// Load tests for mail servers: SMTP, POP3, IMAP, and a fast SMTP sink.
#[derive(Debug, Parser)]
#[command(name = "postern-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send messages over SMTP.
    Smtp(smtp::Args),
    /// Receive messages over SMTP as fast as possible and discard them.
    Sink(sink::Args),
    /// Download every message over POP3.
    Pop3(pop3::Args),
    /// Run an IMAP workload.
    Imap(imap::Args),
}

/// Where and as whom the POP3 and IMAP workloads log in.
#[derive(Debug, Clone, clap::Args)]
pub struct Login {
    /// Server to talk to.
    #[arg(long, value_name = "HOST:PORT")]
    pub server: String,
    /// User name (the help text says how it is numbered).
    #[arg(
        long,
        value_name = "U",
        help = "User name; n in curly braces becomes the session or connection number (0-based)"
    )]
    pub user: String,
    /// Password.
    #[arg(long, value_name = "P")]
    pub pass: String,
    /// TLS from the start (ports 995, 993).
    #[arg(long)]
    pub tls: bool,
}

/// Options every client workload shares.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Measure {
    /// A server process to measure, with all its descendants (repeatable).
    #[arg(long = "tree", value_name = "PID")]
    pub tree: Vec<u32>,
    /// One line of JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok((report, json)) => {
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            if report.errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("postern-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the chosen workload; the report and whether to print it as JSON.
fn run(cli: Cli) -> anyhow::Result<(report::Report, bool)> {
    raise_open_files();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the tokio runtime")?;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Smtp(args) => {
                let json = args.measure.json;
                smtp::run(args).await.map(|r| (r, json))
            }
            Command::Sink(args) => sink::run(&args).await.map(|r| (r, args.json)),
            Command::Pop3(args) => {
                let json = args.measure.json;
                pop3::run(args).await.map(|r| (r, json))
            }
            Command::Imap(args) => {
                let json = args.measure.json;
                imap::run(args).await.map(|r| (r, json))
            }
        }
    });
    // Connections still open (the sink's clients) are simply dropped.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

/// Raises the soft limit on open files to the hard one: thousands of IDLE connections
/// or sink clients need more than the usual 1024. Failure only means a lower ceiling.
fn raise_open_files() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// Parses a duration: a number with an optional unit `ms`, `s` (the default), `m` or
/// `h`; decimals allowed (`1.5s`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at_checked(split).unwrap_or((text, ""));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit, like 10s or 500ms"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("{text:?}: unknown unit {other:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn durations() {
        let good = [
            ("10s", Duration::from_secs(10)),
            ("500ms", Duration::from_millis(500)),
            ("1.5s", Duration::from_millis(1500)),
            ("7", Duration::from_secs(7)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            (" 600s ", Duration::from_secs(600)),
            ("0s", Duration::ZERO),
        ];
        for (text, want) in good {
            assert_eq!(parse_duration(text), Ok(want), "{text:?}");
        }
        for bad in ["", "s", "ms", "-1s", "10x", "1.2.3s", "ten seconds", "1e3s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn cli_parses_the_documented_forms() {
        let cli = Cli::try_parse_from([
            "postern-bench",
            "smtp",
            "--server",
            "127.0.0.1:2525",
            "--to",
            "a{n}@example.test",
            "b@example.test",
            "--spread",
            "10",
            "--pipelining",
            "--wait-maildir",
            "/tmp/mail",
            "--expect",
            "5000",
            "--tree",
            "1",
            "--tree",
            "2",
            "--json",
        ])
        .unwrap();
        let Command::Smtp(args) = cli.command else {
            panic!("not smtp");
        };
        assert_eq!(args.to, ["a{n}@example.test", "b@example.test"]);
        assert_eq!(args.sessions, 10);
        assert_eq!(args.messages, 5000);
        assert_eq!(args.size, 2048);
        assert_eq!(args.measure.tree, [1, 2]);
        assert!(args.measure.json && args.pipelining);
        assert_eq!(args.wait_timeout, Duration::from_secs(600));

        assert!(
            Cli::try_parse_from(["postern-bench", "smtp", "--server", "x:25"]).is_err(),
            "--to is required"
        );
        assert!(
            Cli::try_parse_from([
                "postern-bench",
                "smtp",
                "--server",
                "x:25",
                "--to",
                "a@b",
                "--expect",
                "3"
            ])
            .is_err(),
            "--expect needs --wait-maildir"
        );
        assert!(
            Cli::try_parse_from([
                "postern-bench",
                "smtp",
                "--server",
                "x:25",
                "--to",
                "a@b",
                "--tls",
                "--starttls"
            ])
            .is_err()
        );

        let cli = Cli::try_parse_from([
            "postern-bench",
            "imap",
            "--server",
            "h:143",
            "--user",
            "u",
            "--pass",
            "p",
            "--workload",
            "fetch-flags",
            "--connections",
            "4",
            "--hold",
            "500ms",
        ])
        .unwrap();
        let Command::Imap(args) = cli.command else {
            panic!("not imap");
        };
        assert_eq!(args.workload, imap::Workload::FetchFlags);
        assert_eq!(args.hold, Duration::from_millis(500));

        let cli = Cli::try_parse_from([
            "postern-bench",
            "sink",
            "--listen",
            "127.0.0.1:0",
            "--count",
            "5",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Sink(sink::Args { count: Some(5), .. })
        ));
        assert!(
            Cli::try_parse_from(["postern-bench", "pop3", "--server", "h:110", "--user", "u"])
                .is_err()
        );
    }
}
