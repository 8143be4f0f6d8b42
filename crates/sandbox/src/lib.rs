//! # sandbox: what each daemon may still do once it runs as mail_owner
//!
//! After the privilege drop (crates/service), every daemon but master calls
//! [`apply`] with its [`Profile`] ([`for_daemon`]), before any other thread
//! exists. Two kernel mechanisms then limit it for the rest of its life, and for
//! every thread and child it starts:
//!
//! - **Landlock** (file system and TCP): only the paths of the profile can be
//!   opened, and only with the access the profile gives (read, execute, read-write);
//!   daemons that have no use for TCP can neither bind nor connect; no daemon can
//!   signal a process outside its sandbox (master, other daemons) or connect to
//!   an abstract Unix socket made outside it. Applied with
//!   best-effort compatibility at [`TARGET_ABI`]: an older kernel enforces what it
//!   knows, a kernel without Landlock logs a warning and the daemon goes on.
//! - **seccomp** (system calls): an allowlist built from groups
//!   ([`syscalls`]), with `EPERM` for everything else, so a rare
//!   call that was missed shows up as an error in the log, not as a dead daemon.
//!   A list of dangerous calls (ptrace, mount, kexec, module loading, bpf,
//!   perf_event_open, keyrings, namespaces, personality, io_uring, process_vm_*,
//!   open_by_handle_at, userfaultfd, ...; and execve/execveat except in local) can
//!   never be allowed: building such a profile fails.
//!
//! Dependencies: `landlock` is the Rust library of the Landlock project itself
//! (maintained by the Landlock kernel maintainer): it follows each new ABI, and its
//! best-effort compatibility handles older kernels without version checks in our
//! code. `seccompiler` (rust-vmm, used by Firecracker) compiles a filter to classic
//! BPF in pure Rust, with argument conditions, and needs no libseccomp C library.
//!
//! # Profiles
//!
//! Every daemon reads (Landlock read-only): `config_directory`, the directories of
//! the users, aliases and transport tables and of `:include:` files, `/etc`,
//! `/usr`, `/lib*` (NSS modules, resolver and TLS trust files), `/proc/self`,
//! `/sys/fs/cgroup` and `/sys/devices/system/cpu` (tokio sizes its pool from them),
//! `/dev/urandom`, `/dev/random`; and reads and writes `/dev/null`. Every daemon has
//! the `runtime` and `files-read` system call groups. "queue/X" is
//! `queue_directory/X`.
//!
//! | daemon | read-write | read-only (besides the above) | TCP | system call groups |
//! |---|---|---|---|---|
//! | smtpd | queue/incoming, queue/recycle | queue/private | none | files-write, serve, ipc-client |
//! | qmgr | queue/incoming, active, deferred, hold, corrupt, recycle, private (its lock file) | queue/maildrop | none | files-write, serve, ipc-client |
//! | local | virtual_mailbox_base; (with execute) home directories of root and users with uid >= 1000, /home, /tmp, /var/tmp, /var/mail, /var/spool/mail; directories of `/file` alias targets | queue/active (open read-write, no create/remove), queue/private; execute: /bin, /sbin, /usr, /lib*, /opt, its own directory | any | files-write, serve, ipc-client, net-client, inotify, process, commands; execve allowed |
//! | smtp | - | queue/active (open read-write, no create/remove), queue/private, `smtp_tls_CAfile`'s and `smtp_sasl_password_maps`' directories | any | serve, ipc-client, net-client |
//! | pickup | queue/maildrop, queue/incoming, queue/recycle | queue/active, deferred, hold (open read-write, no create/remove), queue/private, `local_login_sender_maps`' directory | none | files-write, serve, ipc-client |
//! | pop3d | virtual_mailbox_base | - | none | files-write, serve |
//! | imapd | virtual_mailbox_base | - | none | files-write, serve, inotify |
//!
//! The groups:
//!
//! - `runtime`: memory, threads (`clone` only with `CLONE_THREAD`), signals,
//!   clocks, `getrandom`, read/write/fstat on open descriptors, epoll/eventfd,
//!   `socketpair(AF_UNIX)`, `prctl` limited to thread names, the parent-death
//!   signal, `PR_SET_VMA` and `PR_CAPBSET_READ`, `ioctl` limited to `FIONBIO`,
//!   `FIOCLEX`, `FIONCLEX`, `FIONREAD`, `TCGETS`.
//! - `files-read`: `openat`, `getdents64`, `readlinkat`, `faccessat*`, `flock`,
//!   `statfs`.
//! - `files-write`: `mkdirat`, `unlinkat`, `renameat*`, `linkat`, `fsync`,
//!   `fdatasync`, `ftruncate`, `fallocate`, `fchmod*`, `utimensat`, and
//!   `copy_file_range`/`sendfile`/`splice` (std::io::copy).
//! - `serve`: `accept4`, socket options, send/receive, `shutdown`.
//! - `ipc-client`: `socket(AF_UNIX)`, `connect` (private/ sockets, nscd,
//!   systemd-userdb).
//! - `net-client`: `socket(AF_INET/AF_INET6)`, `connect`, `bind` (the resolver's UDP
//!   ports), `sendmmsg`/`recvmmsg`.
//! - `inotify`: `inotify_*` (IMAP IDLE).
//! - `process` (local): fork, `execve`, `wait4`, `kill`, `set*id`/`setgroups` (the
//!   child switches to the recipient or `default_privs`), `chdir`, `setsid`.
//! - `commands` (local): what the shell and ordinary programs in `|command`
//!   deliveries call: any `ioctl`, `prctl` and socket family, symlinks,
//!   `fchown`, extended attributes, timers, priorities, `select`.
//!
//! Access kinds: read-only is read files and list directories; read-write adds
//! writing, creating, removing, renaming and linking files and directories
//! (symbolic links, FIFOs and sockets included, since Landlock checks the right
//! to make one when one is renamed, and qmgr must move such a file dropped into a
//! queue to `corrupt/`), but never execution or device nodes; "open read-write,
//! no create/remove" is for daemons that only read queue files, which the spool
//! opens read-write; local's "with execute" paths also allow running programs (still no device
//! nodes).
//!
//! local is the widest because its children inherit its sandbox: `|command`
//! deliveries run under it. A command that needs more (writing elsewhere, a
//! set-uid program: `no_new_privs` is set) needs `-o daemon_sandbox=no` on local's
//! master.cf line.
//!
//! # How the allowlists were made
//! The integration suite ran with every daemon started through `strace -D -ff`;
//! the calls each daemon (its threads, and for local its children: itself with
//! `--deliver`, `/bin/sh`, `cat`, `touch`, `sleep`) made after the `chdir` to the
//! queue directory, which is where the sandbox is applied, became the groups,
//! with the margin `syscalls` describes. The same run with the sandbox on, still
//! under strace, was then searched for `EPERM` (none) and `EACCES` (only the
//! ones the tests provoke with file modes). Repeat this when a daemon learns
//! something new; a missing call shows as "Operation not permitted" in the log.
//!
//! # Known limits
//! - The paths are resolved when the daemon starts: a table, home directory or
//!   `/file` alias target directory created later (or a directory replaced) is
//!   not covered until the daemon is restarted (`postern reload` restarts a
//!   service whose parameters changed; otherwise restart master).
//! - `/proc/self` is allowed for the daemon itself only; local's children see a
//!   different `/proc/self` and cannot read it (std and glibc fall back).
//! - Connecting to Unix sockets by path is not restricted (that is Landlock ABI
//!   9; see [`TARGET_ABI`]); the socket files' modes still apply.
//! - The x86_64 lists were checked by running them; other architectures compile
//!   the same groups without the x86_64-only calls and are untested.
//!
//! # Security
//! The sandbox is a second wall: a daemon taken over through a bug still runs as
//! mail_owner, and now also cannot read other users' files the modes would allow
//! (home directories, other services' data), write outside its queues and
//! mailboxes, execute programs (but local), or reach most of the kernel's attack
//! surface. Both mechanisms set `no_new_privs`. Master is not sandboxed: it must
//! bind, create directories, and spawn.
//!
//! # Errors
//! [`apply`] fails when the profile is inconsistent (a denied call allowed), when
//! threads already exist (Landlock restricts only the calling thread), when the
//! filter cannot be compiled or installed, or when Landlock refuses the ruleset on
//! a kernel that has it. The daemon then exits; `daemon_sandbox = no` turns the
//! sandbox off.
//!
//! # Configuration
//! `daemon_sandbox` (read by crates/service), and for the paths:
//! `config_directory`, `queue_directory`, `virtual_mailbox_base`,
//! `virtual_user_maps`, `alias_maps`, `transport_maps`, `local_login_sender_maps`,
//! `smtp_tls_CAfile`, `smtp_sasl_password_maps`.

mod files;
mod paths;
mod profile;
mod seccomp;
pub mod syscalls;

use std::fmt;
use std::path::PathBuf;

pub use files::TARGET_ABI;
pub use profile::{
    Access, PathRule, Profile, Tcp, for_daemon, imapd, local, pickup, pop3d, qmgr, smtp, smtpd,
};

/// Why the sandbox could not be applied; the daemon should not go on without it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The profile allows a call on the denied list (a bug in the profile).
    #[error("{daemon}: profile allows the denied system call {call}")]
    Denied {
        /// The daemon.
        daemon: &'static str,
        /// The call.
        call: &'static str,
    },
    /// Other threads exist already; Landlock would restrict only this one.
    #[error("{0} threads exist: the sandbox must be applied before any thread is started")]
    Threads(usize),
    /// Building or enforcing the Landlock ruleset failed.
    #[error("landlock: {0}")]
    Landlock(#[from] landlock::RulesetError),
    /// The seccomp filter could not be compiled.
    #[error("seccomp filter: {0}")]
    Filter(#[source] seccompiler::BackendError),
    /// The kernel refused the seccomp filter.
    #[error("seccomp: {0}")]
    Install(#[source] seccompiler::Error),
}

/// What [`apply`] put in place; `Display` gives the start-up log line's text:
/// `landlock=ABI-6 seccomp=on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The Landlock ABI enforced, or `None` when the kernel has no Landlock.
    pub landlock: Option<i32>,
    /// Whether the kernel enforced only part of the ruleset (an older ABI).
    pub landlock_partial: bool,
    /// Profile paths that do not exist, so have no rule.
    pub missing: Vec<PathBuf>,
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.landlock {
            Some(abi) => write!(f, "landlock=ABI-{abi}")?,
            None => f.write_str("landlock=none")?,
        }
        f.write_str(" seccomp=on")
    }
}

/// How many threads this process has.
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, Iterator::count)
}

/// Restricts this process with `profile`: Landlock first (its set-up calls are not
/// in the allowlists), then the seccomp filter. Call it once, from the only thread.
pub fn apply(profile: &Profile) -> Result<Applied, Error> {
    let threads = thread_count();
    if threads > 1 {
        return Err(Error::Threads(threads));
    }
    // Compile before restricting anything, so a bad profile changes nothing.
    seccomp::compile(profile)?;
    let landlock = files::restrict(profile)?;
    seccomp::install(profile)?;
    Ok(Applied {
        landlock: landlock.abi,
        landlock_partial: landlock.partial,
        missing: landlock.missing,
    })
}

#[cfg(test)]
mod tests;
