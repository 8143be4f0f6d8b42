//! # accounts: domains, users, aliases, password checks, login throttling
//!
//! Answers the two questions every Postern daemon asks about people: *who
//! gets this mail?* (smtpd at RCPT time, local delivery at delivery time)
//! and *may this login in?* (SMTP AUTH, POP3, IMAP).
//!
//! # How it works
//!
//! [`Directory::open`] reads the users files (`virtual_user_maps`) and the
//! aliases files (`alias_maps`) into an immutable [`Accounts`].
//! [`Directory::current`] hands out the loaded version as an `Arc`, and at
//! most once per second checks whether a file changed (modification time,
//! size, inode); if so, everything is read again and the new version
//! replaces the old one. [`Directory::reload`] does the same at once (on
//! SIGHUP). A file that becomes unreadable keeps the last good version in
//! use and logs an error naming it; a bad line is skipped (logged with
//! file:line each time the file is loaded, and kept in
//! [`Accounts::problems`]) while the rest of the file is used.
//!
//! [`Accounts::resolve`] turns an address into a [`Resolution`]: a
//! [`Mailbox`], an alias [`Expansion`], a remote domain, or unknown.
//! Lookups fold the local part and the domain to lower case. A domain is
//! local if it is in `mydestination`, virtual if it is in
//! `virtual_mailbox_domains`, remote otherwise.
//!
//! - Local domains: aliases (by full address, then by bare local part),
//!   then system users from the password database (mailbox
//!   `HOME/Maildir/`, delivered as that user). `postmaster` always
//!   resolves: without an alias or user of that name it is root's mailbox.
//! - Virtual domains: aliases by full address, then the users file
//!   (mailbox `virtual_mailbox_base/DOMAIN/USER/`, lower case); a missing
//!   `postmaster` goes where the local one goes.
//! - With `recipient_delimiter = +`, `user+tag@domain` is looked up as
//!   `user+tag` first, then as `user`; the mailbox records `tag` as its
//!   extension. Several characters mean several delimiters.
//!
//! Aliases expand as Postfix's local(8) does: recursively, a name that
//! refers to its own alias is that user's mailbox (`root: root, backup`),
//! loops and over-deep nesting are reported in [`Expansion::errors`],
//! duplicates are delivered once, and an `owner-NAME` alias sets
//! [`Expansion::owner`]. See the [`resolve`](Accounts::resolve) docs for
//! the exact order.
//!
//! [`Accounts::authenticate`] checks a login against the users file; see
//! [`password`] for the schemes. [`AuthThrottle`] counts failures per
//! client address and per user, slows answers down and then refuses.
//! [`users_file`] edits the users file for `postern user`, and
//! [`aliases::check`] checks an aliases file for `newaliases`;
//! [`users_files`] and [`alias_files`] tell those tools which files the
//! configuration names.
//!
//! # Files
//!
//! The users file is Dovecot's passwd-file, so an existing Dovecot file
//! works unchanged:
//!
//! ```text
//! # user@domain:password:uid:gid:gecos:home:shell:extra_fields
//! alice@example.org:{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$...
//! bob@example.org:{SHA512-CRYPT}$6$...:5000:5000::/home/bob::quota=1G
//! ```
//!
//! Fields after the password are optional; `uid`/`gid` set the owner of
//! the mailbox; extra fields are `key=value` pairs, kept for later. See
//! [`users_file`].
//!
//! The aliases file is `/etc/aliases` format
//! (`name: target, target, ...`, continuation lines start with white space,
//! `#` comments), targets being local names, addresses, `|command`,
//! `/file` and `:include:/file`. See [`aliases`].
//!
//! # Security
//!
//! This crate decides who receives mail and who may log in, and runs with
//! `mail_owner`'s privileges inside daemons that talk to the network.
//!
//! - Password verification is constant time: the hash crates compare
//!   digests in constant time and `{PLAIN}` is compared with `subtle`.
//! - An unknown user costs the same hashing work as a wrong password: the
//!   password is verified against a dummy hash with the scheme and cost
//!   parameters of the users file's first entry (a fixed SHA512-CRYPT one
//!   if the file is empty), and the result is thrown away.
//! - `|command`, `/file` and `:include:` targets come only from lines of
//!   the aliases file. An address from the network is only ever a lookup
//!   key: it is never parsed as a target, so a remote sender cannot make
//!   Postern run a command or write a file. Commands and files inside an
//!   included file are refused (Postfix's `allow_mail_to_commands =
//!   alias`), because include files are often writable by list owners.
//! - Names from the network never reach the file system: a virtual mailbox
//!   path is built from the users file's own entry (whose names may not
//!   contain `/` or be `.`/`..`), and only plausible user names are looked
//!   up in the password database.
//! - Log lines and errors never contain a password or a hash.
//! - Failed logins are throttled per client and per user ([`AuthThrottle`]),
//!   with bounded memory.
//! - Alias expansion is bounded (nesting depth 100, 10 000 targets, include
//!   files of at most 1 MiB), and the parsers never panic on any input.
//!
//! # Errors
//!
//! [`Error`] names what failed: the file (unreadable users or aliases
//! file, failed users-file update and its step), the user (exists, not
//! found, bad name), or the parameter (unsupported lookup table). Bad lines
//! are [`Problem`]s (`file:line: message`), not errors.
//!
//! # Configuration
//!
//! `mydestination`, `myhostname` (the domain of bare local names),
//! `virtual_mailbox_domains`, `virtual_mailbox_base`, `virtual_user_maps`
//! (`passwd-file:PATH`; a relative PATH is under `config_directory`),
//! `alias_maps` (`hash:PATH`, `lmdb:PATH`, `texthash:PATH` or `PATH`, all
//! meaning the text file PATH), `recipient_delimiter`,
//! `auth_failure_delay`, `auth_failure_limit`, `auth_failure_window`.

mod accounts;
mod address;
pub mod aliases;
mod directory;
mod error;
mod fileio;
mod login;
pub mod password;
mod resolve;
mod settings;
mod submit;
mod throttle;
mod transport;
pub mod users_file;

pub use accounts::{Accounts, AuthOutcome};
pub use address::DomainClass;
pub use aliases::AliasReport;
pub use directory::Directory;
pub use error::{Error, Problem, Severity};
pub use login::Login;
pub use resolve::{Expansion, Mailbox, MailboxKind, Resolution, Target};
pub use settings::{alias_files, users_files};
pub use submit::SubmitPolicy;
pub use throttle::{AuthThrottle, MAX_DELAY, MAX_TRACKED, Verdict};
pub use transport::Route;
pub use users_file::UserEntry;

#[cfg(test)]
mod tests;
