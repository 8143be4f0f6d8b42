//! A mail reader's login (POP3, IMAP): throttling, password check and the
//! user's mailbox, in the one order every server must keep.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::{AuthOutcome, AuthThrottle, Directory, Verdict};

/// How a login ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// Too many recent failures from this client or for this user: refused
    /// without checking the password.
    Refused,
    /// Wrong user or password; answer only after `delay` (the throttle's).
    Failed {
        /// How long to wait before answering.
        delay: Duration,
    },
    /// The password was right, but the user has no mailbox here.
    NoMailbox {
        /// The user, as the users file spells it.
        user: String,
    },
    /// Logged in.
    Ok {
        /// The user, as the users file spells it.
        user: String,
        /// Their Maildir.
        maildir: PathBuf,
    },
}

impl Directory {
    /// Checks `login` and `password` for a client at `ip`, through `throttle`.
    /// Blocking (the password hash is slow on purpose): async callers use
    /// `block_in_place` or `spawn_blocking`.
    pub fn log_in(
        &self,
        throttle: &AuthThrottle,
        ip: IpAddr,
        login: &str,
        password: &[u8],
    ) -> Login {
        if let Verdict::Refuse { .. } = throttle.check(ip, Some(login)) {
            return Login::Refused;
        }
        let accounts = self.current();
        match accounts.authenticate(login, password) {
            AuthOutcome::Failed => Login::Failed {
                delay: throttle.failed(ip, Some(login)),
            },
            AuthOutcome::Ok { user } => {
                throttle.succeeded(ip, Some(&user));
                match accounts.mailbox_of_user(&user) {
                    Some(mailbox) => Login::Ok {
                        user,
                        maildir: mailbox.maildir,
                    },
                    None => Login::NoMailbox { user },
                }
            }
        }
    }
}
