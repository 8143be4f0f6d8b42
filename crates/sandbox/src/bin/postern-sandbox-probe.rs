//! postern-sandbox-probe - a test helper: applies a daemon's sandbox to itself, then
//! tries what it is told and prints how each attempt went.
//!
//! `postern-sandbox-probe DAEMON CONFIG_DIR ACTION...` loads the configuration,
//! applies DAEMON's profile (crates/sandbox) and prints `sandbox: ...`, then one line
//! per ACTION: the action, then `ok` or `err` with the OS error number. Actions:
//! `read:PATH`, `write:PATH` (create or append), `exec:PATH`, `connect:PORT` (TCP
//! on 127.0.0.1), `chroot` (a denied call), `chown:PATH` (a call not in most
//! allowlists). Used by the crate's tests, which cannot undo a sandbox in their own
//! process; it is never installed.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

fn attempt(action: &str) -> std::io::Result<()> {
    let (verb, arg) = action.split_once(':').unwrap_or((action, ""));
    match verb {
        "read" => std::fs::read(arg).map(drop),
        "write" => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(arg)?
            .write_all(b"probe\n"),
        "exec" => std::process::Command::new(arg).status().map(drop),
        "connect" => {
            let port: u16 = arg.parse().map_err(std::io::Error::other)?;
            std::net::TcpStream::connect(("127.0.0.1", port)).map(drop)
        }
        "chroot" => std::os::unix::fs::chroot("/"),
        "chown" => std::os::unix::fs::chown(arg, None, None),
        _ => Err(std::io::Error::other(format!("unknown action {action}"))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [daemon, config_dir, actions @ ..] = args.as_slice() else {
        eprintln!("usage: postern-sandbox-probe DAEMON CONFIG_DIR ACTION...");
        return ExitCode::from(64);
    };
    let params = match config::Config::load(Path::new(config_dir)) {
        Ok(config) => config.params,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(78);
        }
    };
    let Some(profile) = sandbox::for_daemon(daemon, &params) else {
        eprintln!("no profile for {daemon}");
        return ExitCode::from(64);
    };
    match sandbox::apply(&profile) {
        Ok(applied) => println!("sandbox: {applied}"),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(71);
        }
    }
    for action in actions {
        match attempt(action) {
            Ok(()) => println!("{action} ok"),
            Err(e) => println!("{action} err {}", e.raw_os_error().unwrap_or(-1)),
        }
    }
    ExitCode::SUCCESS
}
