//! error - why a command line was refused, and the reply for it.

use super::Verb;
use crate::address::AddressError;
use crate::reply::Reply;

/// Why a command line is not an acceptable command. Every variant is the peer's
/// fault ("peer misbehaved"): the server answers with [`CommandError::reply`], counts
/// an error against the session's budget and goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The line is longer than the limit for its verb (see
    /// [`Verb::line_limit`]).
    #[error("command line longer than {limit} octets")]
    LineTooLong {
        /// The verb, if one was recognized.
        verb: Option<Verb>,
        /// The limit in force, including CRLF.
        limit: usize,
    },
    /// The first word is not a command we know.
    #[error("command not recognized")]
    Unrecognized,
    /// The arguments are not UTF-8.
    #[error("{verb}: invalid UTF-8")]
    InvalidUtf8 {
        /// The command.
        verb: Verb,
    },
    /// A control character (other than HTAB) in the line, such as NUL or a bare CR.
    #[error("{verb}: control character in command line")]
    ControlCharacter {
        /// The command.
        verb: Verb,
    },
    /// The arguments do not fit the command's syntax.
    #[error("{verb}: syntax error, expected {}", verb.usage())]
    Syntax {
        /// The command.
        verb: Verb,
    },
    /// The MAIL FROM path is malformed.
    #[error("bad sender address: {0}")]
    BadSender(AddressError),
    /// The RCPT TO path is malformed (or `<>`).
    #[error("bad recipient address: {0}")]
    BadRecipient(AddressError),
    /// A MAIL or RCPT parameter we do not support.
    #[error("{verb}: unsupported parameter {name}")]
    UnsupportedParameter {
        /// MAIL or RCPT.
        verb: Verb,
        /// The parameter keyword, upper-cased.
        name: String,
    },
    /// A supported parameter with a bad value.
    #[error("{verb}: bad value for parameter {name}: {reason}")]
    InvalidParameter {
        /// MAIL or RCPT.
        verb: Verb,
        /// The parameter keyword, upper-cased.
        name: String,
        /// What is wrong with the value.
        reason: &'static str,
    },
    /// The same parameter twice in one command.
    #[error("{verb}: parameter {name} given twice")]
    DuplicateParameter {
        /// MAIL or RCPT.
        verb: Verb,
        /// The parameter keyword, upper-cased.
        name: String,
    },
    /// A non-ASCII MAIL FROM address without the `SMTPUTF8` parameter.
    #[error("non-ASCII sender address without SMTPUTF8")]
    Smtputf8Required,
}

impl CommandError {
    /// The reply the server sends for this error.
    #[must_use]
    pub fn reply(&self) -> Reply {
        match self {
            Self::LineTooLong {
                verb: Some(Verb::Auth),
                ..
            } => Reply::auth_line_too_long(),
            Self::LineTooLong { .. } => Reply::line_too_long(),
            Self::Unrecognized => Reply::unknown_command(),
            Self::InvalidUtf8 { .. } => Reply::bad_syntax("invalid UTF-8"),
            Self::ControlCharacter { .. } => Reply::bad_syntax("control character"),
            Self::Syntax { verb } => Reply::syntax(verb.usage()),
            Self::BadSender(_) => Reply::bad_sender_syntax(),
            Self::BadRecipient(_) => Reply::bad_recipient_syntax(),
            Self::UnsupportedParameter { name, .. } => Reply::unsupported_parameter(name),
            Self::InvalidParameter { name, reason, .. } => Reply::invalid_parameter(name, reason),
            Self::DuplicateParameter { name, .. } => Reply::invalid_parameter(name, "given twice"),
            Self::Smtputf8Required => Reply::smtputf8_required(),
        }
    }

    /// The command the error is about, when the verb was recognized (for per-command
    /// counters in the disconnect log line).
    #[must_use]
    pub fn verb(&self) -> Option<Verb> {
        match self {
            Self::LineTooLong { verb, .. } => *verb,
            Self::Unrecognized => None,
            Self::InvalidUtf8 { verb }
            | Self::ControlCharacter { verb }
            | Self::Syntax { verb }
            | Self::UnsupportedParameter { verb, .. }
            | Self::InvalidParameter { verb, .. }
            | Self::DuplicateParameter { verb, .. } => Some(*verb),
            Self::BadSender(_) | Self::Smtputf8Required => Some(Verb::Mail),
            Self::BadRecipient(_) => Some(Verb::Rcpt),
        }
    }
}
