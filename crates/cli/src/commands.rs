//! The `postern` commands.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use config::Config;
use ipc::control::{Control, MasterStatus, Reply, Request};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use service::exit;

use crate::Failure;
use crate::running::master_pid;

/// How long `start` waits for master to answer.
const START_WAIT: Duration = Duration::from_secs(30);
/// How long `stop` waits beyond `daemon_shutdown_timeout`.
const STOP_SLACK: Duration = Duration::from_secs(10);
/// How often the waits look again.
const POLL: Duration = Duration::from_millis(50);

/// The configuration in `dir`; any error is `EX_CONFIG`.
pub fn load(dir: &Path) -> Result<Config, Failure> {
    let dir = std::fs::canonicalize(dir).map_err(|e| {
        Failure::new(
            exit::CONFIG,
            format!("configuration directory {}: {e}", dir.display()),
        )
    })?;
    Config::load(&dir).map_err(|e| Failure::new(exit::CONFIG, e.to_string()))
}

fn running(config: &Config) -> Result<Option<i32>, Failure> {
    master_pid(&config.params.queue_directory)
        .map_err(|e| Failure::new(exit::OSERR, format!("cannot tell whether master runs: {e}")))
}

fn not_running() -> Failure {
    Failure::new(1, "the mail system is not running")
}

fn send(pid: i32, signal: Signal) -> Result<(), Failure> {
    kill(Pid::from_raw(pid), signal).map_err(|e| {
        Failure::new(
            exit::NOPERM,
            format!("cannot signal master (pid {pid}): {e}"),
        )
    })
}

/// `postern check`.
pub fn check(dir: &Path) -> Result<(), Failure> {
    let config = load(dir)?;
    for warning in &config.warnings {
        eprintln!("postern: warning: {warning}");
    }
    Ok(())
}

/// `postern start`.
pub fn start(dir: &Path) -> Result<(), Failure> {
    let config = load(dir)?;
    for warning in &config.warnings {
        eprintln!("postern: warning: {warning}");
    }
    if let Some(pid) = running(&config)? {
        return Err(Failure::new(
            1,
            format!("the mail system is already running (master pid {pid})"),
        ));
    }
    let program = master_program(&config)?;
    if config.params.maillog_file.is_none() {
        eprintln!(
            "postern: warning: maillog_file is empty: in the background master's log is discarded; set maillog_file or run master -c {} in the foreground",
            config.dir.display()
        );
    }
    // master's standard error is read here until it is up, so a start-up failure is
    // shown; from then on master writes to maillog_file.
    let mut child = Command::new(&program)
        .arg("-c")
        .arg(&config.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::new(exit::OSERR, format!("run {}: {e}", program.display())))?;
    let mut stderr = child.stderr.take();
    let output = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(stderr) = stderr.as_mut() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    });
    let deadline = Instant::now() + START_WAIT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let text = output.join().unwrap_or_default();
            eprint!("{text}");
            return Err(Failure::new(
                exit::SOFTWARE,
                format!("master did not start ({status})"),
            ));
        }
        if query_status(&config).is_ok() {
            println!(
                "postern: the mail system is running (master pid {})",
                child.id()
            );
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Failure::new(
                exit::TEMPFAIL,
                format!(
                    "master (pid {}) did not answer within {}s",
                    child.id(),
                    START_WAIT.as_secs()
                ),
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// `master` in `daemon_directory`, or beside this program when that is empty.
fn master_program(config: &Config) -> Result<PathBuf, Failure> {
    let dir = match &config.params.daemon_directory {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
            .ok_or_else(|| Failure::new(exit::OSERR, "cannot find my own directory"))?,
    };
    Ok(dir.join("master"))
}

/// `postern stop`.
pub fn stop(dir: &Path) -> Result<(), Failure> {
    let config = load(dir)?;
    let pid = running(&config)?.ok_or_else(not_running)?;
    println!("postern: stopping the mail system");
    send(pid, Signal::SIGTERM)?;
    let deadline = Instant::now() + config.params.daemon_shutdown_timeout + STOP_SLACK;
    while running(&config)?.is_some() {
        if Instant::now() > deadline {
            return Err(Failure::new(
                exit::TEMPFAIL,
                format!("master (pid {pid}) is still running"),
            ));
        }
        std::thread::sleep(POLL);
    }
    println!("postern: stopped");
    Ok(())
}

/// `postern reload`.
pub fn reload(dir: &Path) -> Result<(), Failure> {
    let config = load(dir)?;
    for warning in &config.warnings {
        eprintln!("postern: warning: {warning}");
    }
    let pid = running(&config)?.ok_or_else(not_running)?;
    send(pid, Signal::SIGHUP)?;
    println!("postern: refreshing the mail system");
    Ok(())
}

fn query_status(config: &Config) -> Result<MasterStatus, Failure> {
    let path = config
        .params
        .queue_directory
        .join(ipc::names::MASTER_CONTROL_SOCKET);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::OSERR, format!("runtime: {e}")))?;
    let reply = runtime
        .block_on(async {
            let mut conn = ipc::connect_unix::<Control>(&path, Duration::from_secs(10)).await?;
            conn.call(&Request::Status).await
        })
        .map_err(|e| Failure::new(exit::TEMPFAIL, format!("ask master: {e}")))?;
    match reply {
        Reply::Status(status) => Ok(status),
        Reply::Denied => Err(Failure::new(
            exit::NOPERM,
            "master refused: only root and mail_owner may ask",
        )),
    }
}

/// `postern status`.
pub fn status(dir: &Path) -> Result<(), Failure> {
    let config = load(dir)?;
    if running(&config)?.is_none() {
        return Err(not_running());
    }
    let status = query_status(&config)?;
    print!("{}", render_status(&status, unix_now()));
    Ok(())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A duration in seconds the way `uptime` readers like it: `3d4h`, `2h5m`, `4m10s`, `9s`.
fn short_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

fn render_status(status: &MasterStatus, now: u64) -> String {
    let mut out = format!(
        "postern: the mail system is running: master pid {}, up {}, configuration {}\n",
        status.pid,
        short_duration(now.saturating_sub(status.started_unix)),
        status.config_dir
    );
    if status.services.is_empty() {
        out.push_str("no services in master.cf\n");
        return out;
    }
    let mut rows = vec![[
        "SERVICE".to_owned(),
        "TYPE".to_owned(),
        "COMMAND".to_owned(),
        "PROCS".to_owned(),
        "PIDS".to_owned(),
        "UPTIME".to_owned(),
        "RESTARTS".to_owned(),
        "STATE".to_owned(),
    ]];
    for service in &status.services {
        let oldest = service.processes.iter().map(|p| p.started_unix).min();
        let state = match (service.throttled_until_unix, &service.last_exit) {
            (Some(until), Some(exit)) => format!(
                "throttled for {} (last: {exit})",
                short_duration(until.saturating_sub(now))
            ),
            (Some(until), None) => {
                format!(
                    "throttled for {}",
                    short_duration(until.saturating_sub(now))
                )
            }
            (None, _)
                if service.processes.len()
                    == usize::try_from(service.maxproc).unwrap_or(usize::MAX) =>
            {
                "running".to_owned()
            }
            (None, _) => "starting".to_owned(),
        };
        rows.push([
            service.name.clone(),
            service.kind.to_string(),
            service.command.clone(),
            format!("{}/{}", service.processes.len(), service.maxproc),
            service
                .processes
                .iter()
                .map(|p| p.pid.to_string())
                .collect::<Vec<_>>()
                .join(","),
            oldest.map_or_else(|| "-".to_owned(), |t| short_duration(now.saturating_sub(t))),
            service.restarts.to_string(),
            state,
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    for row in &rows {
        let mut line = String::new();
        for (width, cell) in widths.iter().zip(row) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `postern config`: postconf's output, `name = value` per line, sorted by name.
pub fn config(
    dir: &Path,
    non_default: bool,
    defaults: bool,
    names: &[String],
) -> Result<(), Failure> {
    let config = if defaults { None } else { Some(load(dir)?) };
    let known: Vec<&str> = config::parameters().map(|p| p.name).collect();
    for name in names {
        if !known.contains(&name.as_str()) {
            return Err(Failure::new(
                exit::USAGE,
                format!("unknown parameter: {name}"),
            ));
        }
    }
    let selected: Vec<&str> = if names.is_empty() {
        known
    } else {
        names.iter().map(String::as_str).collect()
    };
    for name in selected {
        let value = match &config {
            None => config::default_value(name),
            Some(config) if non_default && !config.is_set(name) => continue,
            Some(config) => config.value(name),
        };
        println!("{name} = {}", value.unwrap_or_default());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ipc::control::{ProcessExit, ProcessStatus, ServiceKind, ServiceStatus};

    use super::*;

    #[test]
    fn durations_are_short() {
        for (secs, want) in [
            (0, "0s"),
            (59, "59s"),
            (61, "1m1s"),
            (3700, "1h1m"),
            (90_000, "1d1h"),
        ] {
            assert_eq!(short_duration(secs), want);
        }
    }

    #[test]
    fn status_table() {
        let status = MasterStatus {
            pid: 10,
            started_unix: 1000,
            config_dir: "/etc/postern".into(),
            services: vec![
                ServiceStatus {
                    name: "127.0.0.1:2525".into(),
                    kind: ServiceKind::Inet,
                    command: "smtpd".into(),
                    maxproc: 2,
                    processes: vec![
                        ProcessStatus {
                            pid: 11,
                            started_unix: 1000,
                        },
                        ProcessStatus {
                            pid: 12,
                            started_unix: 1010,
                        },
                    ],
                    restarts: 0,
                    throttled_until_unix: None,
                    last_exit: None,
                },
                ServiceStatus {
                    name: "qmgr".into(),
                    kind: ServiceKind::Unix,
                    command: "qmgr".into(),
                    maxproc: 1,
                    processes: vec![],
                    restarts: 7,
                    throttled_until_unix: Some(1070),
                    last_exit: Some(ProcessExit::Exited { code: 1 }),
                },
            ],
        };
        assert_eq!(
            render_status(&status, 1060),
            "postern: the mail system is running: master pid 10, up 1m0s, configuration /etc/postern\n\
             SERVICE         TYPE  COMMAND  PROCS  PIDS   UPTIME  RESTARTS  STATE\n\
             127.0.0.1:2525  inet  smtpd    2/2    11,12  1m0s    0         running\n\
             qmgr            unix  qmgr     0/1           -       7         throttled for 10s (last: exit status 1)\n"
        );
    }
}
