//! The supervisor: which processes run for which service, and what to do when one ends.
//!
//! Every `master.cf` row is a [`Service`] with its bound sockets and `maxproc` slots.
//! Each slot holds at most one process. When a process ends, its slot is refilled:
//! at once the first time, then, while the service keeps dying, after a delay that
//! doubles up to `service_throttle_time` (Postfix's throttling, with a warning each
//! time). A process that ran for [`HEALTHY_RUN`] clears its slot's failure count.
//!
//! A reload compares each service's row and effective parameters with the running
//! ones: unchanged services are not touched at all (same processes, same sockets),
//! changed ones get new processes on the same sockets while the old ones finish what
//! they are doing, removed ones are stopped and their sockets closed.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use config::{Config, Params, ServiceEntry, ServiceKey, ServiceKind};
use ipc::control::ProcessExit;
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, User};
use std::os::unix::process::ExitStatusExt;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::listen::{self, Bound};
use crate::log::LogSink;

/// A process that lived this long was healthy: its slot's failure count starts over.
pub const HEALTHY_RUN: Duration = Duration::from_secs(10);
/// A process that ended sooner than this counts as a failure even with exit status 0.
const MIN_RUN: Duration = Duration::from_secs(1);
/// The first throttling delay; it doubles with each further failure.
const FIRST_THROTTLE: Duration = Duration::from_millis(250);
/// How long to wait for processes to go after SIGKILL before giving up on them.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// A process end, reported by the task that waits for it.
#[derive(Debug)]
pub struct Exit {
    pid: u32,
    status: std::io::Result<ExitStatus>,
}

fn key(entry: &ServiceEntry) -> ServiceKey {
    entry.key()
}

struct Running {
    pid: u32,
    started: Instant,
    started_unix: u64,
}

#[derive(Default)]
struct Slot {
    running: Option<Running>,
    failures: u32,
    restart_at: Option<Instant>,
    restart_at_unix: Option<u64>,
}

/// What identifies a file's content cheaply: a replaced or rewritten file changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    path: PathBuf,
    /// (device, inode, size, mtime seconds, mtime nanoseconds), or None when missing.
    meta: Option<(u64, u64, u64, i64, i64)>,
}

impl FileStamp {
    fn of(path: &Path) -> Self {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)
            .ok()
            .map(|m| (m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()));
        FileStamp {
            path: path.to_path_buf(),
            meta,
        }
    }

    /// The files daemons read once, while still privileged, and so only see again
    /// when restarted: TLS certificates, keys and the SNI map (the files it names
    /// are covered by touching the map). A reload restarts a service when one changed.
    fn of_files_read_at_start(params: &Params) -> Vec<FileStamp> {
        [
            &params.smtpd_tls_cert_file,
            &params.smtpd_tls_key_file,
            &params.pop3d_tls_cert_file,
            &params.pop3d_tls_key_file,
            &params.imapd_tls_cert_file,
            &params.imapd_tls_key_file,
            &params.tls_server_sni_maps,
        ]
        .into_iter()
        .flatten()
        .map(|path| FileStamp::of(path))
        .collect()
    }
}

struct Service {
    entry: ServiceEntry,
    params: Params,
    files: Vec<FileStamp>,
    bound: Bound,
    slots: Vec<Slot>,
    restarts: u64,
    last_exit: Option<ProcessExit>,
}

impl Service {
    fn new(entry: ServiceEntry, params: Params, bound: Bound) -> Self {
        let slots = (0..entry.maxproc).map(|_| Slot::default()).collect();
        let files = FileStamp::of_files_read_at_start(&params);
        Service {
            entry,
            params,
            files,
            bound,
            slots,
            restarts: 0,
            last_exit: None,
        }
    }

    /// True when `other` would run exactly the same processes on the same sockets:
    /// the same master.cf row, the same parameters, and unchanged files that a
    /// daemon reads only when it starts (certificates and keys).
    fn same_as(&self, entry: &ServiceEntry, params: &Params) -> bool {
        let mut a = self.entry.clone();
        a.line = entry.line;
        &a == entry
            && &self.params == params
            && self.files == FileStamp::of_files_read_at_start(params)
    }

    /// True when `other` listens on the same sockets (so they can be kept).
    fn same_sockets(&self, entry: &ServiceEntry, params: &Params) -> bool {
        self.entry.kind == entry.kind
            && self.entry.private == entry.private
            && self.params.queue_directory == params.queue_directory
            && (!matches!(entry.kind, ServiceKind::Inet(ref a) if a.host.is_none())
                || (self.params.inet_interfaces == params.inet_interfaces
                    && self.params.inet_protocols == params.inet_protocols))
    }
}

struct ChildRef {
    key: ServiceKey,
    slot: usize,
    /// Replaced by a reload or removed: let it finish, do not refill its slot.
    retiring: bool,
}

/// The supervisor's whole state.
pub struct Supervisor {
    config: Config,
    daemon_dir: PathBuf,
    owner: Option<User>,
    verbose: bool,
    sink: LogSink,
    services: Vec<Service>,
    children: HashMap<u32, ChildRef>,
    exits: mpsc::UnboundedSender<Exit>,
    started_unix: u64,
}

/// The slowest restart delay for a slot with `failures` failures in a row.
pub fn throttle_delay(failures: u32, max: Duration) -> Duration {
    if failures <= 1 {
        return Duration::ZERO;
    }
    let doublings = (failures - 2).min(20);
    FIRST_THROTTLE.saturating_mul(1 << doublings).min(max)
}

/// How a process ended, as `postern status` and the log show it (Postfix's words).
pub fn process_exit(status: &ExitStatus) -> Option<ProcessExit> {
    match (status.code(), status.signal()) {
        (Some(code), _) => Some(ProcessExit::Exited { code }),
        (None, Some(signal)) => Some(ProcessExit::Killed { signal }),
        (None, None) => None,
    }
}

fn describe(status: &std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => process_exit(status).map_or_else(|| "ended".to_owned(), |e| e.to_string()),
        Err(e) => format!("wait failed: {e}"),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Checks what master itself must know before it starts or reloads: every command
/// exists in `daemon_directory`, and every service type is one master can run.
pub fn check_services(config: &Config, daemon_dir: &Path) -> anyhow::Result<()> {
    let file = config.master_cf_path();
    for entry in &config.services {
        if matches!(entry.kind, ServiceKind::Pass) {
            bail!(
                "{}:{}: service {}: type pass is not supported",
                file.display(),
                entry.line,
                entry.name
            );
        }
        let program = daemon_dir.join(&entry.command);
        if entry.command.contains('/') || !program.is_file() {
            bail!(
                "{}:{}: service {}: no program {} in daemon_directory {}",
                file.display(),
                entry.line,
                entry.name,
                entry.command,
                daemon_dir.display()
            );
        }
    }
    Ok(())
}

impl Supervisor {
    /// Binds every service's sockets; processes are started by [`Supervisor::start_all`].
    pub fn new(
        config: Config,
        daemon_dir: PathBuf,
        owner: Option<User>,
        verbose: bool,
        sink: LogSink,
        exits: mpsc::UnboundedSender<Exit>,
    ) -> anyhow::Result<Self> {
        let mut services = Vec::new();
        for entry in &config.services {
            let (params, _) = config.params_for(entry)?;
            let bound = listen::bind(entry, &params, owner.as_ref()).with_context(|| {
                format!(
                    "{}:{}: service {}",
                    config.master_cf_path().display(),
                    entry.line,
                    entry.name
                )
            })?;
            services.push(Service::new(entry.clone(), params, bound));
        }
        Ok(Supervisor {
            config,
            daemon_dir,
            owner,
            verbose,
            sink,
            services,
            children: HashMap::new(),
            exits,
            started_unix: unix_now(),
        })
    }

    /// The running configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Fills every empty slot whose service is not throttled.
    pub fn start_all(&mut self) {
        for index in 0..self.services.len() {
            self.fill_slots(index);
        }
    }

    fn fill_slots(&mut self, index: usize) {
        let Some(service) = self.services.get(index) else {
            return;
        };
        let empty: Vec<usize> = service
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.running.is_none() && s.restart_at.is_none())
            .map(|(i, _)| i)
            .collect();
        for slot in empty {
            self.spawn(index, slot);
        }
    }

    /// The earliest moment a throttled slot is due to be refilled.
    pub fn next_restart(&self) -> Option<Instant> {
        self.services
            .iter()
            .flat_map(|s| s.slots.iter())
            .filter_map(|s| s.restart_at)
            .min()
    }

    /// Refills the throttled slots whose delay has passed.
    pub fn restart_due(&mut self) {
        let now = Instant::now();
        let mut due = Vec::new();
        for (index, service) in self.services.iter_mut().enumerate() {
            for (slot_index, slot) in service.slots.iter_mut().enumerate() {
                if slot.restart_at.is_some_and(|at| at <= now) {
                    slot.restart_at = None;
                    slot.restart_at_unix = None;
                    due.push((index, slot_index));
                }
            }
        }
        for (index, slot) in due {
            self.spawn(index, slot);
        }
    }

    fn spawn(&mut self, index: usize, slot_index: usize) {
        let Some(service) = self.services.get_mut(index) else {
            return;
        };
        let entry = &service.entry;
        let program = self.daemon_dir.join(&entry.command);
        let mut command = tokio::process::Command::new(&program);
        command.arg0(&entry.command);
        command.arg("-c").arg(self.config.dir.as_os_str());
        command.arg("-n").arg(&entry.name);
        command.arg("-t").arg(entry.kind.service_type().to_string());
        let mut rest = Vec::new();
        let mut verbose = self.verbose;
        for arg in &entry.args {
            if arg == "-v" {
                verbose = true;
            } else {
                rest.push(arg.clone());
            }
        }
        if verbose {
            command.arg("-v");
        }
        if !entry.unprivileged {
            command.arg("-P");
        }
        for (name, value) in &entry.overrides {
            command.arg("-o").arg(format!("{name}={value}"));
        }
        if !rest.is_empty() {
            command.arg("--").args(&rest);
        }
        // A clean environment, as Postfix's import_environment: only what a daemon
        // needs, never what happened to be in the admin's shell.
        command.env_clear();
        for name in ["PATH", "TZ", "LANG", "LC_ALL", "RUST_BACKTRACE"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        let fds: Vec<String> = service
            .bound
            .fds
            .iter()
            .map(|fd| std::os::fd::AsRawFd::as_raw_fd(fd).to_string())
            .collect();
        command.env(service::LISTEN_FDS_ENV, fds.join(","));
        command.env(service::MASTER_PID_ENV, std::process::id().to_string());
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());

        // The sockets are close-on-exec everywhere else; open them for this one exec.
        // master spawns from one thread only, so no other child can inherit them.
        set_inheritable(&service.bound, true);
        let spawned = command.spawn();
        set_inheritable(&service.bound, false);

        let Some(slot) = service.slots.get_mut(slot_index) else {
            return;
        };
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                error!(
                    "service {}: cannot run {}: {e}",
                    entry.name,
                    program.display()
                );
                slot.failures += 1;
                let delay = throttle_delay(slot.failures, service.params.service_throttle_time)
                    .max(FIRST_THROTTLE);
                slot.restart_at = Some(Instant::now() + delay);
                slot.restart_at_unix = Some(unix_now() + delay.as_secs());
                return;
            }
        };
        let Some(pid) = child.id() else {
            return;
        };
        info!(
            "service {}: started {} pid {pid}",
            entry.name, entry.command
        );
        slot.running = Some(Running {
            pid,
            started: Instant::now(),
            started_unix: unix_now(),
        });
        self.children.insert(
            pid,
            ChildRef {
                key: key(entry),
                slot: slot_index,
                retiring: false,
            },
        );
        if let Some(stderr) = child.stderr.take() {
            let sink = self.sink.clone();
            let name = entry.command.clone();
            tokio::spawn(async move { sink.copy_child_output(stderr, name, pid).await });
        }
        let exits = self.exits.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = exits.send(Exit { pid, status });
        });
    }

    /// Handles the end of a process: log it, and refill its slot now or later.
    pub fn on_exit(&mut self, exit: Exit) {
        let Some(child) = self.children.remove(&exit.pid) else {
            return;
        };
        let what = describe(&exit.status);
        let clean = exit.status.as_ref().is_ok_and(ExitStatus::success);
        let Some(index) = self
            .services
            .iter()
            .position(|s| key(&s.entry) == child.key)
        else {
            info!(
                "process {} pid {} {what} (service removed)",
                child.key.name, exit.pid
            );
            return;
        };
        let Some(service) = self.services.get_mut(index) else {
            return;
        };
        let command = service.entry.command.clone();
        if child.retiring {
            info!("process {command} pid {} {what} (replaced)", exit.pid);
            return;
        }
        let name = service.entry.name.clone();
        let throttle_max = service.params.service_throttle_time;
        service.last_exit = exit.status.as_ref().ok().and_then(process_exit);
        service.restarts += 1;
        let Some(slot) = service.slots.get_mut(child.slot) else {
            return;
        };
        let ran = slot
            .running
            .take()
            .map_or(Duration::ZERO, |r| r.started.elapsed());
        if clean {
            info!("process {command} pid {} {what}", exit.pid);
        } else {
            warn!("process {command} pid {} {what}", exit.pid);
        }
        if ran >= HEALTHY_RUN {
            slot.failures = 0;
        }
        if !clean || ran < MIN_RUN {
            slot.failures += 1;
        }
        let delay = throttle_delay(slot.failures, throttle_max);
        if delay.is_zero() {
            self.spawn(index, child.slot);
        } else {
            warn!(
                "service {name}: {command} keeps dying ({} failures in a row): throttling, next start in {:.1}s",
                slot.failures,
                delay.as_secs_f64()
            );
            slot.restart_at = Some(Instant::now() + delay);
            slot.restart_at_unix = Some(unix_now() + delay.as_secs().max(1));
        }
    }

    /// Re-reads the configuration and applies the differences (see the module docs).
    /// A broken configuration is logged and the running one stays in force.
    pub fn reload(&mut self) {
        let new = match Config::load(&self.config.dir) {
            Ok(new) => new,
            Err(e) => {
                error!("reload refused, keeping the running configuration: {e}");
                return;
            }
        };
        if let Err(e) = self.check_reload(&new) {
            error!("reload refused, keeping the running configuration: {e:#}");
            return;
        }
        for warning in &new.warnings {
            warn!("{warning}");
        }
        if let Err(e) = self
            .sink
            .reopen(new.params.maillog_file.as_deref(), &new.params.myhostname)
        {
            error!("reopen maillog_file: {e}");
        }

        let mut old: Vec<Service> = std::mem::take(&mut self.services);
        let (mut kept, mut added, mut changed) = (0, 0, 0);
        for entry in &new.services {
            let params = match new.params_for(entry) {
                Ok((params, _)) => params,
                Err(e) => {
                    error!("{e}");
                    continue;
                }
            };
            let previous = old
                .iter()
                .position(|s| key(&s.entry) == key(entry))
                .map(|i| old.swap_remove(i));
            let service = match previous {
                Some(mut service) if service.same_as(entry, &params) => {
                    service.entry.line = entry.line;
                    kept += 1;
                    service
                }
                Some(service) => {
                    changed += 1;
                    self.retire(&service);
                    let keep_sockets = service.same_sockets(entry, &params);
                    let Service {
                        bound, restarts, ..
                    } = service;
                    let bound = if keep_sockets {
                        bound
                    } else {
                        // Close the old sockets first: the new ones may want the same port.
                        drop(bound);
                        match listen::bind(entry, &params, self.owner.as_ref()) {
                            Ok(bound) => bound,
                            Err(e) => {
                                error!("service {}: {e:#}", entry.name);
                                continue;
                            }
                        }
                    };
                    let mut service = Service::new(entry.clone(), params, bound);
                    service.restarts = restarts;
                    service
                }
                None => match listen::bind(entry, &params, self.owner.as_ref()) {
                    Ok(bound) => {
                        added += 1;
                        Service::new(entry.clone(), params, bound)
                    }
                    Err(e) => {
                        error!("service {}: {e:#}", entry.name);
                        continue;
                    }
                },
            };
            self.services.push(service);
        }
        let removed = old.len();
        for service in old {
            self.retire(&service);
            info!("service {}: removed", service.entry.name);
        }
        self.config = new;
        self.start_all();
        info!(
            "reload: {kept} services unchanged, {added} added, {changed} restarted, {removed} removed"
        );
    }

    fn check_reload(&self, new: &Config) -> anyhow::Result<()> {
        let (old, now) = (&self.config.params, &new.params);
        for (name, same) in [
            (
                "queue_directory",
                old.queue_directory == now.queue_directory,
            ),
            ("mail_owner", old.mail_owner == now.mail_owner),
            (
                "daemon_directory",
                old.daemon_directory == now.daemon_directory,
            ),
        ] {
            if !same {
                bail!("{name} changed: stop and start the mail system for that");
            }
        }
        check_services(new, &self.daemon_dir)
    }

    /// Asks the processes of `service` to finish (SIGTERM) without refilling their slots.
    fn retire(&mut self, service: &Service) {
        for slot in &service.slots {
            if let Some(running) = &slot.running {
                if let Some(child) = self.children.get_mut(&running.pid) {
                    child.retiring = true;
                }
                signal(running.pid, Signal::SIGTERM);
            }
        }
    }

    /// Stops everything: SIGTERM to every process, SIGKILL to those still there after
    /// `daemon_shutdown_timeout`, and waits until all are gone.
    pub async fn stop(&mut self, exits: &mut mpsc::UnboundedReceiver<Exit>) {
        for pid in self.children.keys() {
            signal(*pid, Signal::SIGTERM);
        }
        let grace = tokio::time::Instant::now() + self.config.params.daemon_shutdown_timeout;
        self.wait_children(exits, grace).await;
        if !self.children.is_empty() {
            warn!(
                "{} processes still running {}s after SIGTERM: killing them",
                self.children.len(),
                self.config.params.daemon_shutdown_timeout.as_secs()
            );
            for pid in self.children.keys() {
                signal(*pid, Signal::SIGKILL);
            }
            self.wait_children(exits, tokio::time::Instant::now() + KILL_WAIT)
                .await;
        }
        self.services.clear();
    }

    async fn wait_children(
        &mut self,
        exits: &mut mpsc::UnboundedReceiver<Exit>,
        deadline: tokio::time::Instant,
    ) {
        while !self.children.is_empty() {
            tokio::select! {
                exit = exits.recv() => match exit {
                    Some(exit) => {
                        if let Some(child) = self.children.remove(&exit.pid) {
                            let what = describe(&exit.status);
                            info!("process {} pid {} {what}", child.key.name, exit.pid);
                        }
                    }
                    None => return,
                },
                () = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    /// What `postern status` shows.
    pub fn status(&self) -> ipc::control::MasterStatus {
        let services = self
            .services
            .iter()
            .map(|s| ipc::control::ServiceStatus {
                name: s.entry.name.clone(),
                kind: match s.entry.kind {
                    ServiceKind::Inet(_) => ipc::control::ServiceKind::Inet,
                    ServiceKind::Unix => ipc::control::ServiceKind::Unix,
                    ServiceKind::Pass => ipc::control::ServiceKind::Pass,
                },
                command: s.entry.command.clone(),
                maxproc: s.entry.maxproc,
                processes: s
                    .slots
                    .iter()
                    .filter_map(|slot| slot.running.as_ref())
                    .map(|r| ipc::control::ProcessStatus {
                        pid: r.pid,
                        started_unix: r.started_unix,
                    })
                    .collect(),
                restarts: s.restarts,
                throttled_until_unix: s.slots.iter().filter_map(|slot| slot.restart_at_unix).min(),
                last_exit: s.last_exit,
            })
            .collect();
        ipc::control::MasterStatus {
            pid: std::process::id(),
            started_unix: self.started_unix,
            config_dir: self.config.dir.display().to_string(),
            services,
        }
    }
}

fn signal(pid: u32, signal: Signal) {
    if let Ok(raw) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(raw), signal);
    }
}

fn set_inheritable(bound: &Bound, inheritable: bool) {
    let flags = if inheritable {
        FdFlag::empty()
    } else {
        FdFlag::FD_CLOEXEC
    };
    for fd in &bound.fds {
        if let Err(e) = fcntl(fd.as_fd(), FcntlArg::F_SETFD(flags)) {
            error!("fcntl(F_SETFD) on a listening socket: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_grows_and_is_capped() {
        let max = Duration::from_secs(60);
        let cases = [
            (0, Duration::ZERO),
            (1, Duration::ZERO),
            (2, Duration::from_millis(250)),
            (3, Duration::from_millis(500)),
            (4, Duration::from_secs(1)),
            (9, Duration::from_secs(32)),
            (10, Duration::from_secs(60)),
            (u32::MAX, Duration::from_secs(60)),
        ];
        for (failures, want) in cases {
            assert_eq!(throttle_delay(failures, max), want, "{failures} failures");
        }
    }

    #[test]
    fn exits_are_described_like_postfix() {
        assert_eq!(describe(&Ok(ExitStatus::from_raw(0))), "exit status 0");
        assert_eq!(describe(&Ok(ExitStatus::from_raw(1 << 8))), "exit status 1");
        assert_eq!(describe(&Ok(ExitStatus::from_raw(9))), "killed by signal 9");
    }
}
