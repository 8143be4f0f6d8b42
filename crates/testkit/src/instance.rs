//! One Postern instance in a temporary directory.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use ipc::control::{Control, MasterStatus, Reply, Request};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, Uid, User};

use crate::wait_until;

/// The system user that runs the daemons when tests run as root.
pub const TEST_MAIL_OWNER: &str = "postern-test";

/// How long an instance may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The directory with the built binaries: the test executable's `target/<profile>/`.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("current_exe")?;
    // target/debug/deps/integration-HASH -> target/debug
    let mut dir = exe
        .parent()
        .context("test executable has no directory")?
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    for program in ["master", "postern"] {
        if !dir.join(program).is_file() {
            bail!(
                "{} not found in {}: run `cargo build --workspace --all-targets` first",
                program,
                dir.display()
            );
        }
    }
    Ok(dir)
}

/// A TCP port on 127.0.0.1 that was free a moment ago, and that no earlier call in
/// this process handed out (the kernel may give a just-closed port again, and a test
/// asking for two ports must not get the same one twice).
pub fn free_port() -> anyhow::Result<u16> {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..1000 {
        let listener = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let mut handed_out = HANDED_OUT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return Ok(port);
        }
    }
    anyhow::bail!("no TCP port on 127.0.0.1 that was not handed out before")
}

/// Creates the system user `name` (no home, no shell) if it does not exist yet.
pub fn ensure_user(name: &str) -> anyhow::Result<User> {
    // Two useradd at once can both succeed and leave one entry: the uid the
    // loser saw would then be nobody's. One at a time in this process.
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = CREATING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(user) = User::from_name(name)? {
        return Ok(user);
    }
    let status = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ])
        .status()
        .context("run useradd")?;
    // Another test may have created it at the same moment.
    if let Some(user) = User::from_name(name)? {
        return Ok(user);
    }
    bail!("useradd {name} failed: {status}");
}

/// Builds an instance's configuration.
#[derive(Debug, Clone)]
pub struct Builder {
    name: String,
    main: Vec<(String, String)>,
    services: Vec<String>,
}

impl Builder {
    /// Sets a `main.cf` parameter (later calls override earlier ones and the defaults).
    pub fn main(mut self, name: &str, value: &str) -> Self {
        self.main.retain(|(n, _)| n != name);
        self.main.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a `master.cf` line.
    pub fn service(mut self, line: &str) -> Self {
        self.services.push(line.to_owned());
        self
    }

    /// Writes the configuration without starting master.
    pub fn create(self) -> anyhow::Result<Instance> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!(
            "postern-test-{}-{n}-{}",
            std::process::id(),
            self.name
        ));
        if root.exists() {
            std::fs::remove_dir_all(&root)?;
        }
        std::fs::create_dir_all(root.join("etc"))?;
        // mail_owner must be able to reach the queue directory inside.
        std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        let instance = Instance {
            config_dir: root.join("etc"),
            queue_dir: root.join("spool"),
            log_path: root.join("maillog"),
            stderr_path: root.join("master.stderr"),
            bin_dir: bin_dir()?,
            root,
            master: None,
        };
        let mail_owner = if Uid::effective().is_root() {
            ensure_user(TEST_MAIL_OWNER)?.name
        } else {
            User::from_uid(Uid::effective())?.map_or_else(|| "nobody".to_owned(), |u| u.name)
        };
        let mut main = vec![
            (
                "queue_directory".to_owned(),
                instance.queue_dir.display().to_string(),
            ),
            (
                "maillog_file".to_owned(),
                instance.log_path.display().to_string(),
            ),
            (
                "daemon_directory".to_owned(),
                instance.bin_dir.display().to_string(),
            ),
            ("mail_owner".to_owned(), mail_owner),
            ("myhostname".to_owned(), "mx.test.example".to_owned()),
            ("inet_interfaces".to_owned(), "loopback-only".to_owned()),
            ("inet_protocols".to_owned(), "ipv4".to_owned()),
            ("service_throttle_time".to_owned(), "2s".to_owned()),
            ("daemon_shutdown_timeout".to_owned(), "5s".to_owned()),
        ];
        for (name, value) in self.main {
            main.retain(|(n, _)| *n != name);
            main.push((name, value));
        }
        let mut text = String::from("# written by testkit\n");
        for (name, value) in main {
            let _ = writeln!(text, "{name} = {value}");
        }
        instance.write_file("main.cf", &text)?;
        instance.write_master_cf(&self.services.join("\n"))?;
        Ok(instance)
    }

    /// Writes the configuration, starts master and waits until every service is up.
    pub fn start(self) -> anyhow::Result<Instance> {
        let mut instance = self.create()?;
        instance.start_master()?;
        instance.wait_ready()?;
        Ok(instance)
    }
}

/// A Postern instance under test.
#[derive(Debug)]
pub struct Instance {
    root: PathBuf,
    config_dir: PathBuf,
    queue_dir: PathBuf,
    log_path: PathBuf,
    stderr_path: PathBuf,
    bin_dir: PathBuf,
    master: Option<Child>,
}

impl Instance {
    /// A builder for an instance whose directory name contains `name`.
    pub fn builder(name: &str) -> Builder {
        Builder {
            name: name.to_owned(),
            main: Vec::new(),
            services: Vec::new(),
        }
    }

    /// The configuration directory (`-c DIR`).
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// The queue directory.
    pub fn queue_dir(&self) -> &Path {
        &self.queue_dir
    }

    /// The directory with the built binaries.
    pub fn bin(&self, program: &str) -> PathBuf {
        self.bin_dir.join(program)
    }

    /// Writes a file into the configuration directory.
    pub fn write_file(&self, name: &str, text: &str) -> anyhow::Result<()> {
        let path = self.config_dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))
    }

    /// Replaces `master.cf`.
    pub fn write_master_cf(&self, text: &str) -> anyhow::Result<()> {
        self.write_file("master.cf", &format!("{text}\n"))
    }

    /// Starts `master -c DIR` in the foreground, as a child of the test.
    pub fn start_master(&mut self) -> anyhow::Result<()> {
        let stderr = std::fs::File::create(&self.stderr_path)?;
        let child = self
            .master_command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context("spawn master")?;
        self.master = Some(child);
        Ok(())
    }

    /// The command that runs this instance's master in the foreground.
    pub fn master_command(&self) -> Command {
        let mut command = Command::new(self.bin("master"));
        command.arg("-c").arg(&self.config_dir);
        command
    }

    /// Runs `postern -c DIR ARGS...` and returns what it printed.
    pub fn postern(&self, args: &[&str]) -> anyhow::Result<Output> {
        Command::new(self.bin("postern"))
            .arg("-c")
            .arg(&self.config_dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("run postern")
    }

    /// Runs `postern -c DIR ARGS...` with `stdin` as its standard input (a pipe, so
    /// not a terminal) and returns what it printed.
    pub fn postern_with_input(&self, args: &[&str], stdin: &str) -> anyhow::Result<Output> {
        let mut child = Command::new(self.bin("postern"))
            .arg("-c")
            .arg(&self.config_dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("run postern")?;
        let mut input = child.stdin.take().context("postern's standard input")?;
        // postern may exit before reading (a refused name): a broken pipe is fine.
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        child.wait_with_output().context("wait for postern")
    }

    /// The pid of the master this test started.
    pub fn master_pid(&self) -> Option<u32> {
        self.master.as_ref().map(Child::id)
    }

    /// Sends `signal` to master.
    pub fn signal_master(&self, signal: Signal) -> anyhow::Result<()> {
        let pid = self.master_pid().context("master is not running")?;
        kill(Pid::from_raw(i32::try_from(pid)?), signal)?;
        Ok(())
    }

    /// Waits for master to exit (after SIGTERM or a fatal error).
    pub fn wait_master_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let child = self.master.as_mut().context("master was not started")?;
        let status = wait_until(timeout, "master to exit", || {
            child.try_wait().ok().flatten()
        })?;
        self.master = None;
        Ok(status)
    }

    /// SIGTERM to master, then waits for it to exit.
    pub fn stop(&mut self) -> anyhow::Result<ExitStatus> {
        self.signal_master(Signal::SIGTERM)?;
        self.wait_master_exit(Duration::from_secs(30))
    }

    /// Asks master's control socket for its status.
    pub fn status(&self) -> anyhow::Result<MasterStatus> {
        let path = self.queue_dir.join(ipc::names::MASTER_CONTROL_SOCKET);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let reply = runtime.block_on(async {
            let mut conn = ipc::connect_unix::<Control>(&path, Duration::from_secs(5)).await?;
            conn.call(&Request::Status).await
        })?;
        match reply {
            Reply::Status(status) => Ok(status),
            Reply::Denied => bail!("master denied the status request"),
        }
    }

    /// Asks qmgr to retry every deferred message now.
    pub fn flush(&self) -> anyhow::Result<()> {
        let path = self.queue_dir.join(ipc::names::QMGR_SOCKET);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let mut conn =
                ipc::connect_unix::<ipc::qmgr::Qmgr>(&path, Duration::from_secs(5)).await?;
            conn.call(&ipc::qmgr::Request::Flush).await
        })?;
        Ok(())
    }

    /// The files in queue directory `queue` (`incoming`, `active`, `deferred`, ...).
    pub fn queue_files(&self, queue: &str) -> Vec<String> {
        std::fs::read_dir(self.queue_dir.join(queue))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// True when no message is queued (incoming, active, deferred all empty).
    pub fn queue_is_empty(&self) -> bool {
        ["incoming", "active", "deferred"]
            .iter()
            .all(|q| self.queue_files(q).is_empty())
    }

    /// Polls master's status until `check` accepts it.
    pub fn wait_status<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&MasterStatus) -> Option<T>,
    ) -> anyhow::Result<T> {
        wait_until(timeout, what, || {
            self.status().ok().as_ref().and_then(&mut check)
        })
        .with_context(|| self.dump())
    }

    /// Waits until every service runs all of its processes and none is throttled.
    pub fn wait_ready(&self) -> anyhow::Result<MasterStatus> {
        self.wait_status(START_TIMEOUT, "every service to be up", |status| {
            let up = status.services.iter().all(|s| {
                s.throttled_until_unix.is_none()
                    && s.processes.len() == usize::try_from(s.maxproc).unwrap_or(usize::MAX)
            });
            up.then(|| status.clone())
        })
    }

    /// The mail log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// master's standard error so far (fatal errors before the log is open).
    pub fn master_stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Waits until a log line contains `needle`, and returns that line.
    pub fn wait_log(&self, timeout: Duration, needle: &str) -> anyhow::Result<String> {
        wait_until(timeout, &format!("a log line with {needle:?}"), || {
            self.log()
                .lines()
                .find(|l| l.contains(needle))
                .map(str::to_owned)
        })
        .with_context(|| self.dump())
    }

    /// The state worth seeing when a test fails: the log tail, master's standard error
    /// and the spool tree.
    pub fn dump(&self) -> String {
        let log = self.log();
        let tail: Vec<&str> = log.lines().rev().take(80).collect();
        let mut out = format!(
            "--- instance {} ---\n--- maillog (tail) ---\n",
            self.root.display()
        );
        for line in tail.iter().rev() {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "--- master stderr ---\n{}", self.master_stderr());
        let _ = writeln!(out, "--- spool ---");
        list_tree(&self.queue_dir, &mut out);
        out
    }
}

fn list_tree(dir: &Path, out: &mut String) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let _ = writeln!(out, "{}", path.display());
        if path.is_dir() {
            list_tree(&path, out);
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.dump());
        }
        if let Some(mut child) = self.master.take() {
            // master is a session and process group leader: take its children with it.
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::env::var_os("POSTERN_KEEP_TEST_DIR").is_some() {
            eprintln!("kept test directory {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}
