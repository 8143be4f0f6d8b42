//! envelope - what a queue file says about a message besides its bytes.
//!
//! These are the in-memory types. Their on-disk form is defined separately
//! in the `codec` module, so that changing a Rust type here cannot change
//! the file format by accident (the conversion stops compiling instead).

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The SMTP envelope and the facts about how the message arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Reverse path from `MAIL FROM`; the empty string is the null sender `<>`.
    pub sender: String,
    /// Forward paths in `RCPT TO` order; a recipient's index here is its
    /// identity in [`QueueFile::mark_done`](crate::QueueFile::mark_done) and friends.
    pub recipients: Vec<Recipient>,
    /// When the message was accepted; the start of `maximal_queue_lifetime`.
    /// Must not be before the Unix epoch.
    pub arrival: SystemTime,
    /// The SMTP client, for `Received:` and logs; None for local submissions.
    pub client: Option<Client>,
    /// SASL user name if the client authenticated (logged as `sasl_username`).
    pub auth_user: Option<String>,
    /// `ENVID` from `MAIL FROM` (RFC 3461), echoed in DSNs.
    pub dsn_envid: Option<String>,
    /// `RET` from `MAIL FROM` (RFC 3461): how much of the message a DSN returns.
    pub dsn_ret: Option<DsnRet>,
    /// `BODY=8BITMIME` was given, so a relay hop must offer 8BITMIME or downgrade.
    pub body_8bit: bool,
    /// `SMTPUTF8` was given (RFC 6531), so a relay hop must offer SMTPUTF8.
    pub smtputf8: bool,
}

/// One envelope recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// The forward path as given in `RCPT TO`, without angle brackets.
    pub address: String,
    /// `ORCPT` (RFC 3461), e.g. `rfc822;user@example.org`, echoed in DSNs.
    pub orcpt: Option<String>,
    /// `NOTIFY` (RFC 3461): which DSNs the sender asked for.
    pub notify: DsnNotify,
}

/// The SMTP client a message came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// Verified reverse DNS name, or `unknown` (Postfix's convention).
    pub name: String,
    /// The peer IP address as text, e.g. `192.0.2.1` or `2001:db8::1`.
    pub addr: String,
    /// The `HELO`/`EHLO` argument, if one was given.
    pub helo: Option<String>,
    /// `SMTP`, `ESMTP`, `ESMTPS`, `ESMTPSA`, ... as used in `Received: with`.
    pub protocol: String,
}

/// `RET=` of RFC 3461: what a DSN carries of the original message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DsnRet {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: the headers only.
    Headers,
}

/// `NOTIFY=` of RFC 3461: which delivery status notifications to send.
///
/// All false (the `Default`) means the client gave no `NOTIFY`, so the
/// MTA's default applies (failure and delay); see [`DsnNotify::on_failure`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DsnNotify {
    /// `NOTIFY=NEVER`: no DSN at all. Excludes the other three.
    pub never: bool,
    /// `SUCCESS`: report successful delivery.
    pub success: bool,
    /// `FAILURE`: report a permanent failure.
    pub failure: bool,
    /// `DELAY`: report that delivery is delayed.
    pub delay: bool,
}

impl DsnNotify {
    /// is_specified - whether the client gave `NOTIFY` at all.
    pub fn is_specified(&self) -> bool {
        self.never || self.success || self.failure || self.delay
    }

    /// on_success - whether a success DSN is wanted.
    pub fn on_success(&self) -> bool {
        !self.never && self.success
    }

    /// on_failure - whether a failure DSN (bounce) is wanted.
    pub fn on_failure(&self) -> bool {
        !self.never && (self.failure || !self.is_specified())
    }

    /// on_delay - whether a delay DSN is wanted.
    pub fn on_delay(&self) -> bool {
        !self.never && (self.delay || !self.is_specified())
    }
}

/// Where delivery to one recipient stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipientState {
    /// Not attempted yet, or nothing recorded.
    Pending,
    /// Tried and failed temporarily; the text is the last reason (what `mailq` shows).
    Deferred(String),
    /// Delivered (or its DSN handled); never attempted again.
    Done,
    /// Failed permanently; a bounce is due. Never attempted again.
    Failed {
        /// Enhanced status code (RFC 3463), e.g. `5.1.1`.
        status: String,
        /// Human-readable reason, e.g. the remote server's reply.
        reason: String,
    },
}

impl RecipientState {
    /// is_final - Done or Failed: nothing more will happen to this recipient.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Done | Self::Failed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_defaults_follow_rfc_3461() {
        let cases = [
            ("unspecified", DsnNotify::default(), (false, true, true)),
            (
                "never",
                DsnNotify {
                    never: true,
                    ..DsnNotify::default()
                },
                (false, false, false),
            ),
            (
                "success only",
                DsnNotify {
                    success: true,
                    ..DsnNotify::default()
                },
                (true, false, false),
            ),
            (
                "failure,delay",
                DsnNotify {
                    failure: true,
                    delay: true,
                    ..DsnNotify::default()
                },
                (false, true, true),
            ),
        ];
        for (name, n, want) in cases {
            assert_eq!(
                (n.on_success(), n.on_failure(), n.on_delay()),
                want,
                "{name}"
            );
        }
    }
}
