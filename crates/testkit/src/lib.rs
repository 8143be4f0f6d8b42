//! # testkit: real Postern instances for integration tests
//!
//! [`Instance::builder`] writes a `main.cf` and `master.cf` into a fresh temporary
//! directory (spool, log and configuration all inside it), starts the real `master`
//! from the built binaries, and waits, by polling with a deadline, until every service
//! has its processes. Tests then talk to it over real sockets and look at what it left
//! on disk and in its log.
//!
//! On drop the instance's whole process group is killed and the directory removed
//! (kept when `POSTERN_KEEP_TEST_DIR` is set). When the test is failing, the tail of
//! the mail log, master's standard error and the spool tree are printed first.
//!
//! Binaries are found next to the test executable (`target/<profile>/`), so build them
//! first: `cargo build --workspace --all-targets` (the README's test command does).
//!
//! When the tests run as root, instances run the way production does: master as root
//! and every daemon as the system user [`TEST_MAIL_OWNER`], created on first use.

pub mod dns;
pub mod imap;
mod instance;
pub mod sink;
pub mod smtp;
mod wait;

pub use dns::DnsServer;
pub use imap::{ImapClient, Value as ImapValue};
pub use instance::{Builder, Instance, TEST_MAIL_OWNER, bin_dir, ensure_user, free_port};
pub use sink::{SinkOptions, SmtpSink, Stage, Transaction};
pub use smtp::{SmtpClient, SmtpReply};
pub use wait::wait_until;
