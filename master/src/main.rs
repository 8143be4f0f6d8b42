//! # master: the Postern supervisor
//!
//! `master -c DIR` reads `main.cf` and `master.cf`, creates the spool, binds every
//! listening socket that master.cf names, and runs each service's program (from
//! `daemon_directory`) `maxproc` times with those sockets. It stays in the foreground
//! (for systemd and for tests); `postern start` runs it in the background.
//!
//! - A process that ends is started again; a service that keeps dying is throttled
//!   with a growing delay, up to `service_throttle_time`, and a warning each time.
//! - SIGHUP re-reads the configuration: added services start, removed ones stop,
//!   changed ones get new processes; the listening sockets of unchanged services are
//!   never closed, so no client is refused during a reload. A broken configuration
//!   is refused and the running one stays.
//! - SIGTERM (or SIGINT) stops every process (SIGTERM, then SIGKILL after
//!   `daemon_shutdown_timeout`), removes the pid file and exits.
//! - `pid/master.pid` under the queue directory is locked while master runs: a second
//!   master refuses to start.
//! - `private/master` answers `postern status`.
//! - Children's log lines (their standard error) and master's own are written to
//!   `maillog_file`, or to standard output when it is empty.
//!
//! # Security
//! master runs as root in production: it binds ports and creates the spool, and never
//! reads anything from the network. Its children start as root only long enough to
//! open what their `prepare` step needs and then become `mail_owner` (unless master.cf
//! says `unpriv = n`); master refuses to start when `mail_owner` is missing or root.
//! Started as another user (development, tests), everything runs as that user.
//! Children get a clean environment.
//!
//! # Configuration
//! `queue_directory`, `mail_owner`, `daemon_directory`, `maillog_file`,
//! `service_throttle_time`, `daemon_shutdown_timeout`, `inet_interfaces`,
//! `inet_protocols`, and master.cf.

mod control;
mod listen;
mod log;
mod pidfile;
mod supervisor;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use clap::Parser;
use nix::unistd::{Uid, User};
use service::exit;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::log::LogSink;
use crate::pidfile::PidFile;
use crate::supervisor::Supervisor;

/// Command line of `master`.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Postern supervisor: runs the mail system in the foreground"
)]
struct Args {
    /// Configuration directory (main.cf, master.cf).
    #[arg(short = 'c', value_name = "DIR", default_value = "/etc/postern")]
    config_dir: PathBuf,
    /// Verbose logging, for master and every daemon.
    #[arg(short = 'v')]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    // Until main.cf says where the log goes, lines go to standard error, so a
    // configuration error is seen by whoever started master.
    let sink = match LogSink::stderr(&host) {
        Ok(sink) => sink,
        Err(_) => return ExitCode::from(exit::OSERR),
    };
    service::logging::init_with_writer("master", args.verbose, {
        let sink = sink.clone();
        move || sink.clone()
    });
    match run(args, sink) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            error!(target: service::logging::FATAL, "{e:#}");
            ExitCode::from(code)
        }
    }
}

type Fatal = (u8, anyhow::Error);

fn fatal<E: Into<anyhow::Error>>(code: u8) -> impl FnOnce(E) -> Fatal {
    move |e| (code, e.into())
}

fn run(args: Args, sink: LogSink) -> Result<(), Fatal> {
    let dir = std::fs::canonicalize(&args.config_dir)
        .with_context(|| format!("configuration directory {}", args.config_dir.display()))
        .map_err(fatal(exit::CONFIG))?;
    let config = config::Config::load(&dir).map_err(fatal(exit::CONFIG))?;
    let params = config.params.clone();
    let daemon_dir = match &params.daemon_directory {
        Some(dir) => dir.clone(),
        None => own_directory().map_err(fatal(exit::OSERR))?,
    };
    supervisor::check_services(&config, &daemon_dir).map_err(fatal(exit::CONFIG))?;

    let owner = mail_owner(&params.mail_owner).map_err(fatal(exit::CONFIG))?;
    let spool = spool::Spool::new(&params.queue_directory);
    spool
        .create_dirs(owner.as_ref().map(|u| (u.uid, u.gid)))
        .with_context(|| format!("queue_directory {}", params.queue_directory.display()))
        .map_err(fatal(exit::OSERR))?;
    ensure_mailbox_base(&params, owner.as_ref()).map_err(fatal(exit::OSERR))?;
    let pid_path = params.queue_directory.join("pid").join("master.pid");
    let pidfile = PidFile::acquire(&pid_path).map_err(fatal(exit::TEMPFAIL))?;
    // Detach from the terminal's session when started in the background; in a shell's
    // foreground or under systemd this fails harmlessly (already a group leader).
    let _ = nix::unistd::setsid();
    sink.reopen(params.maillog_file.as_deref(), &params.myhostname)
        .context("maillog_file")
        .map_err(fatal(exit::OSERR))?;
    for warning in &config.warnings {
        warn!("{warning}");
    }
    raise_open_files();
    ensure_certificate(&params).map_err(fatal(exit::OSERR))?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("build the runtime")
        .map_err(fatal(exit::OSERR))?;
    let result = runtime.block_on(supervise(config, daemon_dir, owner, args.verbose, sink));
    pidfile.remove();
    result
}

/// The open-files limit master asks for: thousands of IMAP sessions idling in one
/// imapd need a few descriptors each.
const OPEN_FILES: u64 = 65536;

/// raise_open_files - raise the open-files limit (RLIMIT_NOFILE) that every daemon
/// inherits: the hard limit to at least [`OPEN_FILES`] (as far as the kernel's
/// `fs.nr_open` allows, and only as root), and the soft limit to the hard one.
/// Without privilege only the soft limit rises. A failure only means a lower
/// ceiling, so it is logged and startup goes on.
fn raise_open_files() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            warn!("cannot read the open-files limit: {e}");
            return;
        }
    };
    let mut target = hard.max(OPEN_FILES);
    if let Some(nr_open) = nr_open() {
        target = target.min(nr_open);
    }
    if target > hard {
        match setrlimit(Resource::RLIMIT_NOFILE, target, target) {
            Ok(()) => {
                debug!("open-files limit set to {target} (was soft {soft}, hard {hard})");
                return;
            }
            // Not root (or no CAP_SYS_RESOURCE): the soft limit can still go up.
            Err(e) => debug!("cannot raise the hard open-files limit to {target}: {e}"),
        }
    }
    if soft >= hard {
        debug!("open-files limit left at {soft} (the hard limit)");
        return;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => debug!("open-files limit set to {hard} (was soft {soft}), the hard limit"),
        Err(e) => warn!("cannot raise the open-files limit from {soft} to {hard}: {e}"),
    }
}

/// nr_open - the kernel's ceiling for the open-files limit (`/proc/sys/fs/nr_open`),
/// None when it cannot be read.
fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// With no certificate configured for some daemon, creates the self-signed one in the
/// spool (once), so STARTTLS and implicit TLS work out of the box.
fn ensure_certificate(params: &config::Params) -> anyhow::Result<()> {
    let unset = [
        &params.smtpd_tls_cert_file,
        &params.pop3d_tls_cert_file,
        &params.imapd_tls_cert_file,
    ]
    .iter()
    .any(|cert| cert.is_none());
    if unset && tls::ensure_self_signed(&params.queue_directory, &params.myhostname)? {
        info!(
            "created a self-signed certificate for {} in {}; set smtpd_tls_cert_file and smtpd_tls_key_file for a real one",
            params.myhostname,
            tls::self_signed_path(&params.queue_directory).display()
        );
    }
    Ok(())
}

/// Creates `virtual_mailbox_base` for mail_owner when it is missing, so local can
/// create the virtual users' Maildirs inside it without root.
fn ensure_mailbox_base(params: &config::Params, owner: Option<&User>) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let base = &params.virtual_mailbox_base;
    if params.virtual_mailbox_domains.is_empty() || base.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(base).with_context(|| format!("create {}", base.display()))?;
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o750))?;
    if let Some(owner) = owner {
        nix::unistd::chown(base, Some(owner.uid), Some(owner.gid))
            .with_context(|| format!("chown {}", base.display()))?;
    }
    info!("created virtual_mailbox_base {}", base.display());
    Ok(())
}

/// The directory master's own executable is in (the default `daemon_directory`).
fn own_directory() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("find master's own executable")?;
    exe.parent()
        .map(PathBuf::from)
        .ok_or_else(|| anyhow!("{} has no directory", exe.display()))
}

/// As root: `mail_owner`, which must exist and must not be root. As anyone else: none,
/// every process runs as the invoking user.
fn mail_owner(name: &str) -> anyhow::Result<Option<User>> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    Ok(Some(service::privilege::lookup_owner(name)?))
}

async fn supervise(
    config: config::Config,
    daemon_dir: PathBuf,
    owner: Option<User>,
    verbose: bool,
    sink: LogSink,
) -> Result<(), Fatal> {
    let mut terminate = signal(SignalKind::terminate()).map_err(fatal(exit::OSERR))?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(fatal(exit::OSERR))?;
    let mut hangup = signal(SignalKind::hangup()).map_err(fatal(exit::OSERR))?;

    let control_path = config
        .params
        .queue_directory
        .join(ipc::names::MASTER_CONTROL_SOCKET);
    let control = control::bind(&control_path).map_err(fatal(exit::OSERR))?;
    let mut allowed = vec![0, Uid::effective().as_raw()];
    if let Some(owner) = &owner {
        allowed.push(owner.uid.as_raw());
    }
    let (query_tx, mut queries) = mpsc::channel(16);
    tokio::spawn(control::serve(control, allowed, query_tx));

    let (exit_tx, mut exits) = mpsc::unbounded_channel();
    let mut supervisor = Supervisor::new(config, daemon_dir, owner, verbose, sink, exit_tx)
        .map_err(fatal(exit::OSERR))?;
    info!(
        "daemon started -- configuration {}",
        supervisor.config().dir.display()
    );
    supervisor.start_all();

    loop {
        let next = supervisor.next_restart();
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = hangup.recv() => {
                info!("reload -- configuration {}", supervisor.config().dir.display());
                supervisor.reload();
            }
            Some(exit) = exits.recv() => supervisor.on_exit(exit),
            Some(query) = queries.recv() => {
                let _ = query.send(supervisor.status());
            }
            () = sleep_until(next) => supervisor.restart_due(),
        }
    }
    info!("terminating on signal");
    supervisor.stop(&mut exits).await;
    let _ = std::fs::remove_file(&control_path);
    Ok(())
}

async fn sleep_until(when: Option<std::time::Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when.into()).await,
        None => std::future::pending().await,
    }
}
