//! # service: the life cycle every Postern daemon shares
//!
//! A daemon's `main` is one call, `service::run::<MyDaemon>()`. The skeleton does the
//! rest, in an order that matters for security (the same order as Postfix's server
//! skeletons):
//!
//! 1. Parse the arguments master passes: `-c DIR -n SERVICE -t TYPE [-v] [-P]
//!    [-o name=value]... [-- ARGS...]`.
//! 2. Set up logging on standard error in the shape `NAME[PID]: text` ([`logging`]);
//!    master adds the time stamp and host name and writes the line to `maillog_file`.
//! 3. Load `main.cf` and apply this service's `-o` overrides.
//! 4. Take the listening sockets master passed ([`inherit`]); refuse to run without
//!    them, so nobody starts a daemon by hand by mistake.
//! 5. Run the daemon's [`Service::prepare`] hook while still privileged (key files
//!    readable only by root are opened here).
//! 6. Drop privileges to `mail_owner` unless master.cf says `unpriv = n` ([`privilege`]),
//!    ask the kernel for SIGTERM when master dies, `chdir` to the queue directory, and
//!    apply the daemon's sandbox (crates/sandbox: Landlock paths and a seccomp system
//!    call allowlist) unless `daemon_sandbox = no`.
//! 7. Only now build the tokio runtime, so no worker thread ever runs as root, then
//!    run [`Service::start`].
//! 8. Accept connections on every listener; each is a task of its own, so a panic
//!    in one session is logged and does not end the process.
//! 9. On SIGTERM (or when master is gone) stop accepting, give open sessions
//!    `daemon_shutdown_timeout` to finish, and exit 0.
//!
//! Sessions bound their reads with a [`Deadline`] per request rather than a timeout
//! per read, so a client trickling one byte at a time cannot hold a session forever.
//!
//! # Security
//! Runs as root only until step 6, and then only the code in `prepare`. The check after
//! the drop reads back the real, effective and saved IDs. The inherited descriptors are
//! checked to be listening sockets before they are used.
//!
//! # Errors
//! A failure before serving is logged once as `fatal:` and the process exits with a
//! sysexits code: `EX_CONFIG` (78) for configuration errors, `EX_OSERR` (71) for the
//! environment (sockets, privileges), `EX_SOFTWARE` (70) for the daemon's own start-up.
//!
//! # Configuration
//! `queue_directory`, `mail_owner`, `daemon_shutdown_timeout`, plus whatever the
//! daemon reads itself.

mod args;
pub mod clock;
mod conn;
mod deadline;
mod delegate;
pub mod inherit;
pub mod logging;
pub mod privilege;
mod run;

pub use args::Args;
pub use conn::{Conn, Peer, Stream};
pub use deadline::Deadline;
pub use run::{Context, Service, run};
pub use tokio_util::sync::CancellationToken;
pub use tokio_util::task::TaskTracker;

/// Not public API: the paths [`delegate_stream!`] expands to.
#[doc(hidden)]
pub mod __private {
    pub use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
}

/// Exit codes from `sysexits.h`, as Postfix uses them.
pub mod exit {
    /// Command line usage error.
    pub const USAGE: u8 = 64;
    /// Bad input data (a malformed file, a bad user name, an empty password).
    pub const DATAERR: u8 = 65;
    /// An input file does not exist or cannot be read.
    pub const NOINPUT: u8 = 66;
    /// No such user.
    pub const NOUSER: u8 = 67;
    /// Internal software error.
    pub const SOFTWARE: u8 = 70;
    /// System error (cannot fork, cannot adopt a socket, cannot drop privileges).
    pub const OSERR: u8 = 71;
    /// Cannot create an output (a file, or a user that already exists).
    pub const CANTCREAT: u8 = 73;
    /// An error while reading or writing a file.
    pub const IOERR: u8 = 74;
    /// Permission denied.
    pub const NOPERM: u8 = 77;
    /// Temporary failure; the caller may retry.
    pub const TEMPFAIL: u8 = 75;
    /// Configuration error.
    pub const CONFIG: u8 = 78;
}

/// The environment variable in which master lists the inherited listening descriptors.
pub const LISTEN_FDS_ENV: &str = "POSTERN_LISTEN_FDS";
/// The environment variable in which master passes its own process ID.
pub const MASTER_PID_ENV: &str = "POSTERN_MASTER_PID";
