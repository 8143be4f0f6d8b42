//! The daemon skeleton: from `main` to exit.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use nix::sys::signal::Signal;
use nix::unistd::{Uid, getppid};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use crate::inherit::{self, Listener};
use crate::logging::{self, FATAL};
use crate::{Args, Conn, Peer, Stream, exit, privilege};

/// What a daemon has while it starts: its arguments and configuration.
#[derive(Debug)]
pub struct Context {
    /// The command line master passed.
    pub args: Args,
    /// The whole configuration (main.cf and master.cf) as loaded at start.
    pub config: config::Config,
    /// The effective parameters for this service (main.cf plus `-o` overrides).
    pub params: config::Params,
}

/// One daemon: its start-up hooks and its per-connection handler.
pub trait Service: Sized + Send + Sync + 'static {
    /// The program name used in log lines (`smtpd`, `qmgr`, ...).
    const NAME: &'static str;
    /// What [`Service::prepare`] opens while still privileged.
    type Prepared: Send + 'static;

    /// Runs as root (when master runs as root), before the privilege drop: open key
    /// files and anything else only root may open. Keep it small.
    fn prepare(ctx: &Context) -> anyhow::Result<Self::Prepared>;

    /// Runs after the privilege drop, inside the runtime: build the daemon's state.
    fn start(
        ctx: &Context,
        prepared: Self::Prepared,
    ) -> impl Future<Output = anyhow::Result<Self>> + Send;

    /// Serves one connection until it ends or `shutdown` is cancelled.
    fn serve(
        self: Arc<Self>,
        conn: Conn,
        shutdown: CancellationToken,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Work that is not a connection (qmgr's scheduler): runs from start until
    /// `shutdown` is cancelled, and is waited for, like the sessions, on SIGTERM.
    fn background(self: Arc<Self>, shutdown: CancellationToken) -> impl Future<Output = ()> + Send {
        let _ = (self, shutdown);
        async {}
    }
}

/// A start-up failure: the exit code and the error to log as fatal.
struct Fatal {
    code: u8,
    error: anyhow::Error,
}

trait OrFatal<T> {
    fn or_fatal(self, code: u8) -> Result<T, Fatal>;
}

impl<T, E: Into<anyhow::Error>> OrFatal<T> for Result<T, E> {
    fn or_fatal(self, code: u8) -> Result<T, Fatal> {
        self.map_err(|e| Fatal {
            code,
            error: e.into(),
        })
    }
}

/// Runs daemon `S` from `main`: see the crate documentation for the steps.
pub fn run<S: Service>() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { 0 });
        }
    };
    logging::init_stderr(S::NAME, args.verbose);
    match run_checked::<S>(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(fatal) => {
            error!(target: FATAL, "{:#}", fatal.error);
            ExitCode::from(fatal.code)
        }
    }
}

fn run_checked<S: Service>(args: Args) -> Result<(), Fatal> {
    let config = config::Config::load(&args.config_dir).or_fatal(exit::CONFIG)?;
    // The overrides come from master's command line, not from master.cf as it is now:
    // master.cf may have been edited since master read it.
    let line = config
        .services
        .iter()
        .find(|e| {
            e.name == args.service_name && e.kind.service_type().to_string() == args.service_type
        })
        .map_or(0, |e| e.line);
    let (params, warnings) = config
        .params_with_overrides(&args.overrides, line)
        .or_fatal(exit::CONFIG)?;
    for warning in warnings {
        warn!("{warning}");
    }
    let listeners = inherit::take_listeners().or_fatal(exit::OSERR)?;
    let ctx = Context {
        args,
        config,
        params,
    };

    let prepared = S::prepare(&ctx).or_fatal(exit::SOFTWARE)?;
    drop_privileges(&ctx).or_fatal(exit::OSERR)?;
    watch_master().or_fatal(exit::OSERR)?;
    std::env::set_current_dir(&ctx.params.queue_directory)
        .with_context(|| format!("chdir {}", ctx.params.queue_directory.display()))
        .or_fatal(exit::OSERR)?;
    confine(S::NAME, &ctx).or_fatal(exit::OSERR)?;

    // Only now, unprivileged and sandboxed, do threads exist.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("build the runtime")
        .or_fatal(exit::OSERR)?;
    runtime.block_on(serve_all::<S>(ctx, prepared, listeners))
}

fn drop_privileges(ctx: &Context) -> anyhow::Result<()> {
    if !Uid::effective().is_root() {
        debug!("running as uid {}: no privileges to drop", Uid::effective());
        return Ok(());
    }
    if ctx.args.privileged {
        debug!("master.cf says unpriv=n: keeping root privileges");
        return Ok(());
    }
    let owner = privilege::lookup_owner(&ctx.params.mail_owner)?;
    privilege::drop_to(&owner)?;
    Ok(())
}

/// Applies the daemon's sandbox (crates/sandbox: Landlock and seccomp) unless
/// `daemon_sandbox = no`. Runs while the process has a single thread.
fn confine(name: &'static str, ctx: &Context) -> anyhow::Result<()> {
    if !ctx.params.daemon_sandbox {
        info!("sandbox: off (daemon_sandbox = no)");
        return Ok(());
    }
    let Some(profile) = sandbox::for_daemon(name, &ctx.params) else {
        debug!("sandbox: no profile for {name}");
        return Ok(());
    };
    let applied =
        sandbox::apply(&profile).context("apply the sandbox (daemon_sandbox = no turns it off)")?;
    if applied.landlock.is_none() {
        warn!("sandbox: the kernel has no Landlock: file access is not restricted");
    }
    for path in &applied.missing {
        debug!("sandbox: {} does not exist: no rule for it", path.display());
    }
    info!("sandbox: {applied}");
    Ok(())
}

/// Makes the kernel send SIGTERM when master dies, then checks master is still there
/// (it could have died before the request took effect).
fn watch_master() -> anyhow::Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).context("prctl(PR_SET_PDEATHSIG)")?;
    if let Some(master) = std::env::var(crate::MASTER_PID_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        && getppid().as_raw() != master
    {
        anyhow::bail!("master (pid {master}) is gone");
    }
    Ok(())
}

async fn serve_all<S: Service>(
    ctx: Context,
    prepared: S::Prepared,
    listeners: Vec<Listener>,
) -> Result<(), Fatal> {
    let mut terminate = signal(SignalKind::terminate()).or_fatal(exit::OSERR)?;
    let mut interrupt = signal(SignalKind::interrupt()).or_fatal(exit::OSERR)?;
    // master restarts a daemon with SIGTERM; a stray SIGHUP must not kill it.
    let mut hangup = signal(SignalKind::hangup()).or_fatal(exit::OSERR)?;

    let service = Arc::new(S::start(&ctx, prepared).await.or_fatal(exit::SOFTWARE)?);
    let shutdown = CancellationToken::new();
    let sessions = TaskTracker::new();
    sessions.spawn(service.clone().background(shutdown.clone()));
    for listener in listeners {
        let accept = accept_loop(
            listener,
            service.clone(),
            shutdown.clone(),
            sessions.clone(),
        )
        .or_fatal(exit::OSERR)?;
        tokio::spawn(accept);
    }

    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = hangup.recv() => debug!("SIGHUP ignored: master restarts daemons with SIGTERM"),
        }
    }
    shutdown.cancel();
    sessions.close();
    let grace = ctx.params.daemon_shutdown_timeout;
    if tokio::time::timeout(grace, sessions.wait()).await.is_err() {
        warn!(
            "{} sessions or tasks still running {}s after SIGTERM: exiting",
            sessions.len(),
            grace.as_secs()
        );
    }
    Ok(())
}

enum AsyncListener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

impl AsyncListener {
    fn from_std(listener: Listener) -> std::io::Result<Self> {
        Ok(match listener {
            Listener::Tcp(l) => {
                l.set_nonblocking(true)?;
                AsyncListener::Tcp(tokio::net::TcpListener::from_std(l)?)
            }
            Listener::Unix(l) => {
                l.set_nonblocking(true)?;
                AsyncListener::Unix(tokio::net::UnixListener::from_std(l)?)
            }
        })
    }

    async fn accept(&self) -> std::io::Result<Conn> {
        match self {
            AsyncListener::Tcp(l) => {
                let (stream, peer) = l.accept().await?;
                // Every daemon writes whole replies from its own buffer: no
                // Nagle delay for the last short piece of a long reply.
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr().ok();
                Ok(Conn {
                    stream: Stream::Tcp(stream),
                    peer: Peer::Tcp(peer),
                    local,
                })
            }
            AsyncListener::Unix(l) => {
                let (stream, _) = l.accept().await?;
                let cred = stream.peer_cred()?;
                Ok(Conn {
                    peer: Peer::Unix {
                        uid: cred.uid(),
                        gid: cred.gid(),
                        pid: cred.pid(),
                    },
                    stream: Stream::Unix(stream),
                    local: None,
                })
            }
        }
    }
}

/// How long to pause accepting after an error such as EMFILE, so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

fn accept_loop<S: Service>(
    listener: Listener,
    service: Arc<S>,
    shutdown: CancellationToken,
    sessions: TaskTracker,
) -> std::io::Result<impl Future<Output = ()> + Send> {
    let listener = AsyncListener::from_std(listener)?;
    Ok(async move {
        loop {
            let conn = tokio::select! {
                _ = shutdown.cancelled() => return,
                conn = listener.accept() => conn,
            };
            match conn {
                Ok(conn) => {
                    sessions.spawn(session(service.clone(), conn, shutdown.clone()));
                }
                Err(e) => {
                    warn!("accept: {e}");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            }
        }
    })
}

/// Runs one session in a task of its own so that a panic in it is contained and logged.
async fn session<S: Service>(service: Arc<S>, conn: Conn, shutdown: CancellationToken) {
    let peer = conn.peer.clone();
    match tokio::spawn(service.serve(conn, shutdown)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!("session with {peer}: {e:#}"),
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            error!("session with {peer} panicked: {what}");
        }
        Err(_) => {}
    }
}
