//! report - what a delivery status notification says, before it is rendered.
//!
//! The caller (qmgr) fills in a [`Report`] from the queue file and the
//! delivery results; [`render`](crate::render) turns it into a message.

use std::time::SystemTime;

use spool::{DsnNotify, Envelope, QueueId, Recipient};

/// The `Action` field of RFC 3464 §2.3.3: what happened to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Delivery failed permanently; nothing more will be tried.
    Failed,
    /// Delivery failed temporarily and is still being retried.
    Delayed,
    /// Delivered into the recipient's mailbox.
    Delivered,
    /// Handed to a next hop that does not report delivery status itself.
    Relayed,
    /// Delivered to an alias or list, which produced new recipients.
    Expanded,
}

impl Action {
    /// as_str - the keyword as written in the `Action:` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Delayed => "delayed",
            Self::Delivered => "delivered",
            Self::Relayed => "relayed",
            Self::Expanded => "expanded",
        }
    }

    /// default_status - the enhanced status code used when the caller's is malformed.
    pub(crate) fn default_status(self) -> &'static str {
        match self {
            Self::Failed => "5.0.0",
            Self::Delayed => "4.0.0",
            Self::Delivered | Self::Relayed | Self::Expanded => "2.0.0",
        }
    }
}

/// Which of the three reports of RFC 3461 this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A bounce: one or more recipients failed permanently.
    Failure,
    /// A delay warning: one or more recipients are still being retried.
    Delay,
    /// A success report, only ever sent when the sender asked (`NOTIFY=SUCCESS`).
    Success,
}

impl Kind {
    /// as_str - a short lower-case name, used in the Message-ID and boundary.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Failure => "bounce",
            Self::Delay => "delay",
            Self::Success => "success",
        }
    }
}

/// What happened to one recipient: one per-recipient block of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientReport {
    /// The address delivery was attempted to (`Final-Recipient`), without
    /// angle brackets. After alias expansion this is the expanded address.
    pub final_recipient: String,
    /// The `ORCPT` as stored in the envelope (`rfc822;user@example.org`),
    /// echoed as `Original-Recipient` so the sender can match the report
    /// to what it sent.
    pub original_recipient: Option<String>,
    /// What happened.
    pub action: Action,
    /// Enhanced status code (RFC 3463), e.g. `5.1.1`. A malformed value is
    /// replaced by `5.0.0`, `4.0.0` or `2.0.0` according to `action`.
    pub status: String,
    /// Host name of the server that gave the answer, written as
    /// `Remote-MTA: dns; NAME`; None for local delivery.
    pub remote_mta: Option<String>,
    /// `Diagnostic-Code` with its type: `smtp; 550 5.1.1 no such user` for
    /// a remote reply, `x-postern; mailbox is full` for our own reasons.
    /// A value without a `;` gets the `x-postern;` type.
    pub diagnostic: Option<String>,
    /// When delivery was last tried (`Last-Attempt-Date`).
    pub last_attempt: Option<SystemTime>,
    /// When retries stop (`Will-Retry-Until`); written for `Delayed` only.
    pub will_retry_until: Option<SystemTime>,
}

impl RecipientReport {
    /// new - a report for an envelope recipient, with the optional fields empty.
    ///
    /// `final_recipient` and `original_recipient` come from `rcpt`; set
    /// the other optional fields afterwards as known.
    pub fn new(rcpt: &Recipient, action: Action, status: &str) -> Self {
        Self {
            final_recipient: rcpt.address.clone(),
            original_recipient: rcpt.orcpt.clone(),
            action,
            status: status.to_owned(),
            remote_mta: None,
            diagnostic: None,
            last_attempt: None,
            will_retry_until: None,
        }
    }
}

/// Everything one delivery status notification says.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// Bounce, delay warning or success report: picks subject and wording.
    pub kind: Kind,
    /// The original message's queue ID (`X-Postern-Queue-ID`, Message-ID, boundary).
    pub queue_id: &'a QueueId,
    /// The original message's envelope: sender, `ENVID`, `RET`, 8-bit flags.
    pub envelope: &'a Envelope,
    /// The recipients this report is about; at least one.
    pub recipients: Vec<RecipientReport>,
    /// This server's host name (`myhostname`), for `Reporting-MTA` and IDs.
    pub reporting_mta: &'a str,
    /// The `From:` address, e.g. `MAILER-DAEMON@myhostname`.
    pub postmaster: &'a str,
    /// Who the report is addressed to when that is not the envelope sender:
    /// the postmaster, for a double bounce. None means `envelope.sender`.
    pub to: Option<&'a str>,
    /// When the original message arrived (`Arrival-Date`).
    pub arrival: SystemTime,
    /// When this report is made (`Date:`, and part of the Message-ID).
    pub now: SystemTime,
}

impl Report<'_> {
    /// addressee - the address in `To:`, without angle brackets.
    pub fn addressee(&self) -> &str {
        self.to.unwrap_or(&self.envelope.sender)
    }

    /// needs_smtputf8 - whether the report must travel with `SMTPUTF8`.
    ///
    /// True when the original did (its returned headers may be UTF-8) or
    /// when the addressee is not ASCII (it appears raw in `To:`).
    pub fn needs_smtputf8(&self) -> bool {
        self.envelope.smtputf8 || !self.addressee().is_ascii()
    }

    /// needs_8bitmime - whether the report must travel with `BODY=8BITMIME`.
    ///
    /// True when the original was 8-bit or SMTPUTF8: the returned copy of
    /// it is not re-encoded.
    pub fn needs_8bitmime(&self) -> bool {
        self.envelope.body_8bit || self.envelope.smtputf8
    }
}

/// should_notify - whether the sender asked for this kind of report (RFC 3461 §4.1).
///
/// Without `NOTIFY`, failures and delays are reported; `NEVER` turns
/// everything off; success is reported only when asked for. This looks at
/// one recipient's options only: the caller must also never send a report
/// for a message with the null sender (RFC 3461 §6.2, RFC 5321 §4.5.5).
pub fn should_notify(kind: Kind, notify: &DsnNotify) -> bool {
    match kind {
        Kind::Failure => notify.on_failure(),
        Kind::Delay => notify.on_delay(),
        Kind::Success => notify.on_success(),
    }
}

/// Why a [`Report`] cannot be rendered; carried inside the `io::Error`
/// (kind `InvalidInput`) that [`render`](crate::render) returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidReport {
    /// RFC 3464 requires at least one per-recipient block.
    #[error("{queue_id}: delivery status report without recipients")]
    NoRecipients {
        /// The original message's queue ID.
        queue_id: QueueId,
    },
    /// The report would go to the null sender `<>`: reports about
    /// reports are never sent there (RFC 3461 §6.2); a double bounce goes
    /// to the postmaster through [`Report::to`].
    #[error("{queue_id}: delivery status report to the null sender")]
    NullSender {
        /// The original message's queue ID.
        queue_id: QueueId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_notify_truth_table() {
        let none = DsnNotify::default();
        let never = DsnNotify {
            never: true,
            ..none
        };
        let success = DsnNotify {
            success: true,
            ..none
        };
        let failure = DsnNotify {
            failure: true,
            ..none
        };
        let delay = DsnNotify {
            delay: true,
            ..none
        };
        let all = DsnNotify {
            success: true,
            failure: true,
            delay: true,
            never: false,
        };
        // (name, options, (failure, delay, success))
        let cases = [
            ("no NOTIFY", none, (true, true, false)),
            ("NEVER", never, (false, false, false)),
            ("SUCCESS", success, (false, false, true)),
            ("FAILURE", failure, (true, false, false)),
            ("DELAY", delay, (false, true, false)),
            ("SUCCESS,FAILURE,DELAY", all, (true, true, true)),
        ];
        for (name, notify, want) in cases {
            let got = (
                should_notify(Kind::Failure, &notify),
                should_notify(Kind::Delay, &notify),
                should_notify(Kind::Success, &notify),
            );
            assert_eq!(got, want, "{name}");
        }
    }
}
