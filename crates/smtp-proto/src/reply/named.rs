//! named - one constructor per reply Postern sends.
//!
//! Wording follows Postfix's habits (short, `Error:` prefixes on refusals) so existing
//! log tools and admins' expectations carry over, but the words are ours. Arguments that
//! came from the peer (addresses, parameter names) are safe: rendering sanitises them.

use std::borrow::Cow;
use std::fmt::Display;

use super::status::StatusClass::{Permanent, Success, Transient};
use super::{EnhancedStatus, Reply, ReplyCode};
use crate::ehlo::Capability;

const fn status(class: super::StatusClass, subject: u16, detail: u16) -> Option<EnhancedStatus> {
    Some(EnhancedStatus::known(class, subject, detail))
}

fn fixed(code: ReplyCode, status: Option<EnhancedStatus>, text: &'static str) -> Reply {
    Reply::new(code, status, Cow::Borrowed(text))
}

fn owned(code: ReplyCode, status: Option<EnhancedStatus>, text: String) -> Reply {
    Reply::new(code, status, Cow::Owned(text))
}

/// Positive replies.
impl Reply {
    /// `220 HOST ESMTP Postern`: the greeting.
    #[must_use]
    pub fn greeting(host: &str) -> Self {
        owned(
            ReplyCode::SERVICE_READY,
            None,
            format!("{host} ESMTP Postern"),
        )
    }

    /// `250-HOST` then one line per capability: the answer to EHLO.
    #[must_use]
    pub fn ehlo(host: &str, capabilities: &[Capability]) -> Self {
        let mut reply = owned(ReplyCode::OK, None, host.to_owned());
        reply.more = capabilities
            .iter()
            .map(|capability| Cow::Owned(capability.to_string()))
            .collect();
        reply
    }

    /// `250 HOST`: the answer to HELO.
    #[must_use]
    pub fn helo(host: &str) -> Self {
        owned(ReplyCode::OK, None, host.to_owned())
    }

    /// `250 2.0.0 Ok`: generic success (NOOP, RSET).
    #[must_use]
    pub fn ok() -> Self {
        fixed(ReplyCode::OK, status(Success, 0, 0), "Ok")
    }

    /// `250 2.1.0 Ok`: MAIL accepted.
    #[must_use]
    pub fn sender_ok() -> Self {
        fixed(ReplyCode::OK, status(Success, 1, 0), "Ok")
    }

    /// `250 2.1.5 Ok`: RCPT accepted.
    #[must_use]
    pub fn recipient_ok() -> Self {
        fixed(ReplyCode::OK, status(Success, 1, 5), "Ok")
    }

    /// `354 End data with <CR><LF>.<CR><LF>`: go ahead with DATA.
    #[must_use]
    pub fn start_data() -> Self {
        fixed(
            ReplyCode::START_DATA,
            None,
            "End data with <CR><LF>.<CR><LF>",
        )
    }

    /// `250 2.0.0 Ok: queued as ID`: the message is durably in the queue.
    #[must_use]
    pub fn queued(id: impl Display) -> Self {
        owned(
            ReplyCode::OK,
            status(Success, 0, 0),
            format!("Ok: queued as {id}"),
        )
    }

    /// `250 2.0.0 Ok: N octets`: a BDAT chunk other than the last was received.
    #[must_use]
    pub fn chunk_ok(octets: u64) -> Self {
        owned(
            ReplyCode::OK,
            status(Success, 0, 0),
            format!("Ok: {octets} octets"),
        )
    }

    /// `221 2.0.0 Bye`: the answer to QUIT.
    #[must_use]
    pub fn closing() -> Self {
        fixed(ReplyCode::CLOSING, status(Success, 0, 0), "Bye")
    }

    /// `252 2.0.0 ...`: the answer to VRFY, which never discloses whether a user exists.
    #[must_use]
    pub fn vrfy_cannot() -> Self {
        fixed(
            ReplyCode::CANNOT_VERIFY,
            status(Success, 0, 0),
            "Cannot verify the user; send mail and delivery will be attempted",
        )
    }

    /// `214 2.0.0 ...`: the answer to HELP.
    #[must_use]
    pub fn help() -> Self {
        fixed(
            ReplyCode::HELP,
            status(Success, 0, 0),
            "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
        )
    }

    /// `220 2.0.0 Ready to start TLS`: the answer to STARTTLS.
    #[must_use]
    pub fn ready_for_tls() -> Self {
        fixed(
            ReplyCode::SERVICE_READY,
            status(Success, 0, 0),
            "Ready to start TLS",
        )
    }

    /// `235 2.7.0 Authentication successful`.
    #[must_use]
    pub fn auth_ok() -> Self {
        fixed(
            ReplyCode::AUTH_SUCCEEDED,
            status(Success, 7, 0),
            "Authentication successful",
        )
    }

    /// `334 BASE64`: a SASL challenge (RFC 4954 gives it no status code). An empty
    /// challenge renders as `334 ` (the space is required).
    #[must_use]
    pub fn auth_challenge(base64: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ReplyCode::AUTH_CHALLENGE, None, base64)
    }
}

/// Refusals of a command: the session goes on.
impl Reply {
    /// `503 5.5.1 Error: TEXT`: command out of sequence (e.g. `need MAIL command`).
    #[must_use]
    pub fn bad_sequence(text: &str) -> Self {
        owned(
            ReplyCode::BAD_SEQUENCE,
            status(Permanent, 5, 1),
            format!("Error: {text}"),
        )
    }

    /// `501 5.5.4 Syntax: USAGE`: the arguments do not fit the command's syntax.
    #[must_use]
    pub fn syntax(usage: &str) -> Self {
        owned(
            ReplyCode::ARGUMENT_ERROR,
            status(Permanent, 5, 4),
            format!("Syntax: {usage}"),
        )
    }

    /// `501 5.5.2 Syntax error: WHAT`: the line itself is malformed (bad bytes).
    #[must_use]
    pub fn bad_syntax(what: &str) -> Self {
        owned(
            ReplyCode::ARGUMENT_ERROR,
            status(Permanent, 5, 2),
            format!("Syntax error: {what}"),
        )
    }

    /// `501 5.1.7 Bad sender address syntax`.
    #[must_use]
    pub fn bad_sender_syntax() -> Self {
        fixed(
            ReplyCode::ARGUMENT_ERROR,
            status(Permanent, 1, 7),
            "Bad sender address syntax",
        )
    }

    /// `501 5.1.3 Bad recipient address syntax`.
    #[must_use]
    pub fn bad_recipient_syntax() -> Self {
        fixed(
            ReplyCode::ARGUMENT_ERROR,
            status(Permanent, 1, 3),
            "Bad recipient address syntax",
        )
    }

    /// `555 5.5.4 Unsupported option: NAME`: unknown MAIL or RCPT parameter.
    #[must_use]
    pub fn unsupported_parameter(name: &str) -> Self {
        owned(
            ReplyCode::PARAMETERS_UNRECOGNIZED,
            status(Permanent, 5, 4),
            format!("Unsupported option: {name}"),
        )
    }

    /// `501 5.5.4 Bad parameter: NAME (WHY)`: a known parameter with a bad value.
    #[must_use]
    pub fn invalid_parameter(name: &str, why: &str) -> Self {
        owned(
            ReplyCode::ARGUMENT_ERROR,
            status(Permanent, 5, 4),
            format!("Bad parameter: {name} ({why})"),
        )
    }

    /// `500 5.5.2 Error: command not recognized`.
    #[must_use]
    pub fn unknown_command() -> Self {
        fixed(
            ReplyCode::SYNTAX_ERROR,
            status(Permanent, 5, 2),
            "Error: command not recognized",
        )
    }

    /// `502 5.5.1 Error: command not implemented`.
    #[must_use]
    pub fn not_implemented() -> Self {
        fixed(
            ReplyCode::NOT_IMPLEMENTED,
            status(Permanent, 5, 1),
            "Error: command not implemented",
        )
    }

    /// `502 5.5.1 Error: EXPN is not available`: EXPN would disclose lists.
    #[must_use]
    pub fn expn_disabled() -> Self {
        fixed(
            ReplyCode::NOT_IMPLEMENTED,
            status(Permanent, 5, 1),
            "Error: EXPN is not available",
        )
    }

    /// `500 5.5.2 Error: line too long`: a command line over its limit.
    #[must_use]
    pub fn line_too_long() -> Self {
        fixed(
            ReplyCode::SYNTAX_ERROR,
            status(Permanent, 5, 2),
            "Error: line too long",
        )
    }

    /// `553 5.6.7 Error: address requires SMTPUTF8`: a non-ASCII address in a
    /// transaction that did not declare SMTPUTF8 (RFC 6531).
    #[must_use]
    pub fn smtputf8_required() -> Self {
        fixed(
            ReplyCode::MAILBOX_NAME_INVALID,
            status(Permanent, 6, 7),
            "Error: address requires SMTPUTF8",
        )
    }

    /// `452 4.5.3 Error: too many recipients`.
    #[must_use]
    pub fn too_many_recipients() -> Self {
        fixed(
            ReplyCode::INSUFFICIENT_STORAGE,
            status(Transient, 5, 3),
            "Error: too many recipients",
        )
    }

    /// `554 5.5.1 Error: no valid recipients`: DATA or BDAT without an accepted RCPT.
    #[must_use]
    pub fn no_valid_recipients() -> Self {
        fixed(
            ReplyCode::TRANSACTION_FAILED,
            status(Permanent, 5, 1),
            "Error: no valid recipients",
        )
    }
}

/// What an access restriction looked at, for the text of its refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The client host (`smtpd_client_restrictions`).
    Client,
    /// The HELO name (`smtpd_helo_restrictions`).
    Helo,
    /// The envelope sender (`smtpd_sender_restrictions`).
    Sender,
    /// The recipient (`smtpd_recipient_restrictions`).
    Recipient,
}

impl Checked {
    const fn words(self) -> &'static str {
        match self {
            Checked::Client => "Client host rejected",
            Checked::Helo => "Helo command rejected",
            Checked::Sender => "Sender address rejected",
            Checked::Recipient => "Recipient address rejected",
        }
    }
}

/// Policy refusals.
impl Reply {
    /// `554 5.7.1 <WHAT>: Client host rejected: Access denied` (and the same for HELO,
    /// sender, recipient): an explicit `reject` in a restriction list.
    #[must_use]
    pub fn access_denied(checked: Checked, what: impl Display) -> Self {
        owned(
            ReplyCode::TRANSACTION_FAILED,
            status(Permanent, 7, 1),
            format!("<{what}>: {}: Access denied", checked.words()),
        )
    }

    /// `450 4.7.1 <WHAT>: Client host rejected: Try again later`: a `defer` in a
    /// restriction list.
    #[must_use]
    pub fn access_deferred(checked: Checked, what: impl Display) -> Self {
        owned(
            ReplyCode::MAILBOX_BUSY,
            status(Transient, 7, 1),
            format!("<{what}>: {}: Try again later", checked.words()),
        )
    }

    /// `450 4.7.1 <RCPT>: Relay access denied`: `defer_unauth_destination`.
    #[must_use]
    pub fn relay_deferred(rcpt: impl Display) -> Self {
        owned(
            ReplyCode::MAILBOX_BUSY,
            status(Transient, 7, 1),
            format!("<{rcpt}>: Relay access denied"),
        )
    }

    /// `554 5.7.1 <RCPT>: Relay access denied`.
    #[must_use]
    pub fn relay_denied(rcpt: impl Display) -> Self {
        owned(
            ReplyCode::TRANSACTION_FAILED,
            status(Permanent, 7, 1),
            format!("<{rcpt}>: Relay access denied"),
        )
    }

    /// `550 5.1.1 <RCPT>: Recipient address rejected: User unknown`.
    #[must_use]
    pub fn unknown_user(rcpt: impl Display) -> Self {
        owned(
            ReplyCode::MAILBOX_UNAVAILABLE,
            status(Permanent, 1, 1),
            format!("<{rcpt}>: Recipient address rejected: User unknown"),
        )
    }

    /// `553 5.7.1 <SENDER>: Sender address rejected: not owned by the authenticated
    /// user`: submission with someone else's envelope sender.
    #[must_use]
    pub fn sender_not_owned(sender: impl Display) -> Self {
        owned(
            ReplyCode::MAILBOX_NAME_INVALID,
            status(Permanent, 7, 1),
            format!("<{sender}>: Sender address rejected: not owned by the authenticated user"),
        )
    }

    /// `552 5.3.4 Message size exceeds fixed limit` (SIZE= too big, or the message).
    #[must_use]
    pub fn too_big() -> Self {
        fixed(
            ReplyCode::EXCEEDED_STORAGE,
            status(Permanent, 3, 4),
            "Message size exceeds fixed limit",
        )
    }

    /// `500 5.5.2 Error: message line too long`: a DATA/BDAT line over 998 octets
    /// (RFC 5322 2.1.1; RFC 5321 4.5.3.1.10 names 500 for over-long lines).
    #[must_use]
    pub fn message_line_too_long() -> Self {
        fixed(
            ReplyCode::SYNTAX_ERROR,
            status(Permanent, 5, 2),
            "Error: message line too long",
        )
    }

    /// `550 5.5.2 Error: bare <LF> received`: message refused for a bare LF.
    #[must_use]
    pub fn bare_newline() -> Self {
        fixed(
            ReplyCode::MAILBOX_UNAVAILABLE,
            status(Permanent, 5, 2),
            "Error: bare <LF> received",
        )
    }

    /// `550 5.5.2 Error: bare <CR> received`: message refused for a bare CR.
    #[must_use]
    pub fn bare_carriage_return() -> Self {
        fixed(
            ReplyCode::MAILBOX_UNAVAILABLE,
            status(Permanent, 5, 2),
            "Error: bare <CR> received",
        )
    }
}

/// Authentication and TLS.
impl Reply {
    /// `535 5.7.8 Authentication failed`.
    #[must_use]
    pub fn auth_failed() -> Self {
        fixed(
            ReplyCode::AUTH_FAILED,
            status(Permanent, 7, 8),
            "Authentication failed",
        )
    }

    /// `530 5.7.0 Authentication required`.
    #[must_use]
    pub fn auth_required() -> Self {
        fixed(
            ReplyCode::AUTH_REQUIRED,
            status(Permanent, 7, 0),
            "Authentication required",
        )
    }

    /// `530 5.7.0 Must issue a STARTTLS command first`.
    #[must_use]
    pub fn encryption_required() -> Self {
        fixed(
            ReplyCode::AUTH_REQUIRED,
            status(Permanent, 7, 0),
            "Must issue a STARTTLS command first",
        )
    }

    /// `454 4.7.0 Temporary authentication failure` (throttled, or the password
    /// backend is down).
    #[must_use]
    pub fn auth_throttled() -> Self {
        fixed(
            ReplyCode::TEMPORARY_FAILURE,
            status(Transient, 7, 0),
            "Temporary authentication failure",
        )
    }

    /// `501 5.7.0 Authentication aborted`: the client answered a challenge with `*`.
    #[must_use]
    pub fn auth_cancelled() -> Self {
        fixed(
            ReplyCode::ARGUMENT_ERROR,
            status(Permanent, 7, 0),
            "Authentication aborted",
        )
    }

    /// `501 5.5.2 Error: cannot decode the response`: a SASL response not in base64.
    #[must_use]
    pub fn auth_bad_response() -> Self {
        fixed(
            ReplyCode::ARGUMENT_ERROR,
            status(Permanent, 5, 2),
            "Error: cannot decode the response",
        )
    }

    /// `504 5.5.4 Unsupported authentication mechanism`.
    #[must_use]
    pub fn auth_mechanism_unsupported() -> Self {
        fixed(
            ReplyCode::PARAMETER_NOT_IMPLEMENTED,
            status(Permanent, 5, 4),
            "Unsupported authentication mechanism",
        )
    }

    /// `500 5.5.6 Authentication exchange line is too long` (RFC 4954 section 4).
    #[must_use]
    pub fn auth_line_too_long() -> Self {
        fixed(
            ReplyCode::SYNTAX_ERROR,
            status(Permanent, 5, 6),
            "Authentication exchange line is too long",
        )
    }

    /// `454 4.7.0 TLS not available`.
    #[must_use]
    pub fn tls_not_available() -> Self {
        fixed(
            ReplyCode::TEMPORARY_FAILURE,
            status(Transient, 7, 0),
            "TLS not available",
        )
    }
}

/// Local trouble and session ends.
impl Reply {
    /// `421 4.7.0 HOST Error: too many errors`: the error budget is spent; hang up.
    #[must_use]
    pub fn too_many_errors(host: &str) -> Self {
        owned(
            ReplyCode::SERVICE_UNAVAILABLE,
            status(Transient, 7, 0),
            format!("{host} Error: too many errors"),
        )
    }

    /// `421 4.4.2 HOST Error: timeout exceeded`.
    #[must_use]
    pub fn timeout(host: &str) -> Self {
        owned(
            ReplyCode::SERVICE_UNAVAILABLE,
            status(Transient, 4, 2),
            format!("{host} Error: timeout exceeded"),
        )
    }

    /// `421 4.3.2 HOST Service shutting down`.
    #[must_use]
    pub fn shutting_down(host: &str) -> Self {
        owned(
            ReplyCode::SERVICE_UNAVAILABLE,
            status(Transient, 3, 2),
            format!("{host} Service shutting down"),
        )
    }

    /// `421 4.7.0 HOST Error: too many connections`: per-client session limit.
    #[must_use]
    pub fn too_many_connections(host: &str) -> Self {
        owned(
            ReplyCode::SERVICE_UNAVAILABLE,
            status(Transient, 7, 0),
            format!("{host} Error: too many connections"),
        )
    }

    /// `452 4.3.1 Insufficient system storage`: the queue file system is full.
    #[must_use]
    pub fn storage_full() -> Self {
        fixed(
            ReplyCode::INSUFFICIENT_STORAGE,
            status(Transient, 3, 1),
            "Insufficient system storage",
        )
    }

    /// `451 4.3.0 Error: queue file write error`: any other local failure to queue.
    #[must_use]
    pub fn local_error() -> Self {
        fixed(
            ReplyCode::LOCAL_ERROR,
            status(Transient, 3, 0),
            "Error: queue file write error",
        )
    }
}
