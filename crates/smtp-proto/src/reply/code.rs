//! code - the three-digit reply code.

use std::fmt;

/// A three-digit SMTP reply code (RFC 5321 section 4.2), always within `200..=599`.
///
/// The first digit says how the command went: 2 done, 3 go on, 4 try again later,
/// 5 do not try again. RFC 5321 has no `1yz` replies, so they are not representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// 211: system status.
    pub const SYSTEM_STATUS: Self = Self(211);
    /// 214: help message.
    pub const HELP: Self = Self(214);
    /// 220: service ready (greeting, and the answer to STARTTLS).
    pub const SERVICE_READY: Self = Self(220);
    /// 221: closing the connection (answer to QUIT).
    pub const CLOSING: Self = Self(221);
    /// 235: authentication succeeded (RFC 4954).
    pub const AUTH_SUCCEEDED: Self = Self(235);
    /// 250: requested action completed.
    pub const OK: Self = Self(250);
    /// 252: cannot verify the user, but will accept mail for it.
    pub const CANNOT_VERIFY: Self = Self(252);
    /// 334: SASL challenge (RFC 4954).
    pub const AUTH_CHALLENGE: Self = Self(334);
    /// 354: start mail input.
    pub const START_DATA: Self = Self(354);
    /// 421: service not available, closing the connection.
    pub const SERVICE_UNAVAILABLE: Self = Self(421);
    /// 450: mailbox unavailable (busy, or a temporary policy refusal).
    pub const MAILBOX_BUSY: Self = Self(450);
    /// 451: aborted, local error in processing.
    pub const LOCAL_ERROR: Self = Self(451);
    /// 452: insufficient system storage (also: too many recipients).
    pub const INSUFFICIENT_STORAGE: Self = Self(452);
    /// 454: temporary failure (TLS not available, temporary authentication failure).
    pub const TEMPORARY_FAILURE: Self = Self(454);
    /// 455: server unable to accommodate parameters.
    pub const PARAMETERS_UNAVAILABLE: Self = Self(455);
    /// 500: syntax error, command unrecognized (includes a command line too long).
    pub const SYNTAX_ERROR: Self = Self(500);
    /// 501: syntax error in parameters or arguments.
    pub const ARGUMENT_ERROR: Self = Self(501);
    /// 502: command not implemented.
    pub const NOT_IMPLEMENTED: Self = Self(502);
    /// 503: bad sequence of commands.
    pub const BAD_SEQUENCE: Self = Self(503);
    /// 504: command parameter not implemented (also: unknown SASL mechanism).
    pub const PARAMETER_NOT_IMPLEMENTED: Self = Self(504);
    /// 530: authentication (or encryption) required.
    pub const AUTH_REQUIRED: Self = Self(530);
    /// 535: authentication credentials invalid.
    pub const AUTH_FAILED: Self = Self(535);
    /// 550: mailbox unavailable (unknown user, policy rejection).
    pub const MAILBOX_UNAVAILABLE: Self = Self(550);
    /// 551: user not local.
    pub const USER_NOT_LOCAL: Self = Self(551);
    /// 552: exceeded storage allocation (message too big).
    pub const EXCEEDED_STORAGE: Self = Self(552);
    /// 553: mailbox name not allowed.
    pub const MAILBOX_NAME_INVALID: Self = Self(553);
    /// 554: transaction failed (or no SMTP service here).
    pub const TRANSACTION_FAILED: Self = Self(554);
    /// 555: MAIL/RCPT parameters not recognized or not implemented.
    pub const PARAMETERS_UNRECOGNIZED: Self = Self(555);

    /// A reply code, if `code` is within `200..=599`.
    #[must_use]
    pub const fn new(code: u16) -> Option<Self> {
        if code >= 200 && code <= 599 {
            Some(Self(code))
        } else {
            None
        }
    }

    /// The numeric value.
    #[must_use]
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The first digit (2, 3, 4 or 5).
    #[must_use]
    pub const fn class(self) -> u8 {
        // 200..=599 / 100 is 2..=5, which always fits.
        match self.0 / 100 {
            2 => 2,
            3 => 3,
            4 => 4,
            _ => 5,
        }
    }

    /// 2yz or 3yz: the command was accepted (done, or go on).
    #[must_use]
    pub const fn is_positive(self) -> bool {
        self.0 < 400
    }

    /// 2yz: the command completed.
    #[must_use]
    pub const fn is_completion(self) -> bool {
        self.0 < 300
    }

    /// 3yz: the command was accepted and the server waits for more (354, 334).
    #[must_use]
    pub const fn is_intermediate(self) -> bool {
        self.0 >= 300 && self.0 < 400
    }

    /// 4yz: a transient failure; the same command may succeed later.
    #[must_use]
    pub const fn is_transient(self) -> bool {
        self.0 >= 400 && self.0 < 500
    }

    /// 5yz: a permanent failure; the same command will fail again.
    #[must_use]
    pub const fn is_permanent(self) -> bool {
        self.0 >= 500
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_limits() {
        for (name, code, ok) in [
            ("below", 199, false),
            ("lowest", 200, true),
            ("highest", 599, true),
            ("above", 600, false),
            ("zero", 0, false),
            ("one-hundred", 100, false),
        ] {
            assert_eq!(ReplyCode::new(code).is_some(), ok, "{name}");
        }
    }

    #[test]
    fn classes() {
        let cases = [
            // code, positive, completion, intermediate, transient, permanent
            (250, true, true, false, false, false),
            (354, true, false, true, false, false),
            (421, false, false, false, true, false),
            (554, false, false, false, false, true),
        ];
        for (code, pos, comp, int, trans, perm) in cases {
            let c = ReplyCode::new(code).unwrap();
            assert_eq!(c.is_positive(), pos, "{code} positive");
            assert_eq!(c.is_completion(), comp, "{code} completion");
            assert_eq!(c.is_intermediate(), int, "{code} intermediate");
            assert_eq!(c.is_transient(), trans, "{code} transient");
            assert_eq!(c.is_permanent(), perm, "{code} permanent");
            assert_eq!(u16::from(c.class()), code / 100);
        }
    }

    #[test]
    fn display() {
        assert_eq!(ReplyCode::OK.to_string(), "250");
    }
}
