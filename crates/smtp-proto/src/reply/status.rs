//! status - RFC 3463 enhanced status codes (`class.subject.detail`).

use std::fmt;
use std::str::FromStr;

/// The class (first number) of an enhanced status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusClass {
    /// `2.x.x`: success.
    Success,
    /// `4.x.x`: persistent transient failure.
    Transient,
    /// `5.x.x`: permanent failure.
    Permanent,
}

impl StatusClass {
    /// The digit on the wire.
    #[must_use]
    pub const fn digit(self) -> u8 {
        match self {
            Self::Success => 2,
            Self::Transient => 4,
            Self::Permanent => 5,
        }
    }

    /// The class for a digit, if it is 2, 4 or 5.
    #[must_use]
    pub const fn from_digit(digit: u8) -> Option<Self> {
        match digit {
            2 => Some(Self::Success),
            4 => Some(Self::Transient),
            5 => Some(Self::Permanent),
            _ => None,
        }
    }
}

/// An enhanced mail system status code (RFC 3463), such as `2.1.5` or `5.7.1`.
///
/// Subject and detail are at most three digits each (`0..=999`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedStatus {
    class: StatusClass,
    subject: u16,
    detail: u16,
}

/// Why a string is not an enhanced status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an enhanced status code (expected class.subject.detail, e.g. 2.1.0)")]
pub struct StatusParseError;

impl EnhancedStatus {
    /// `2.0.0`: success, nothing more to say.
    pub const OK: Self = Self::known(StatusClass::Success, 0, 0);
    /// `2.1.0`: sender address accepted.
    pub const SENDER_OK: Self = Self::known(StatusClass::Success, 1, 0);
    /// `2.1.5`: recipient address accepted.
    pub const RECIPIENT_OK: Self = Self::known(StatusClass::Success, 1, 5);
    /// `2.7.0`: security (authentication) succeeded.
    pub const SECURITY_OK: Self = Self::known(StatusClass::Success, 7, 0);

    /// A status code, if `subject` and `detail` are at most 999.
    #[must_use]
    pub const fn new(class: StatusClass, subject: u16, detail: u16) -> Option<Self> {
        if subject <= 999 && detail <= 999 {
            Some(Self {
                class,
                subject,
                detail,
            })
        } else {
            None
        }
    }

    /// For constants written in this crate; every caller passes values below 1000.
    pub(crate) const fn known(class: StatusClass, subject: u16, detail: u16) -> Self {
        Self {
            class,
            subject,
            detail,
        }
    }

    /// The class: success, transient or permanent.
    #[must_use]
    pub const fn class(self) -> StatusClass {
        self.class
    }

    /// The subject (second number): 1 addressing, 2 mailbox, 3 mail system, 4 network,
    /// 5 protocol, 6 content, 7 security.
    #[must_use]
    pub const fn subject(self) -> u16 {
        self.subject
    }

    /// The detail (third number).
    #[must_use]
    pub const fn detail(self) -> u16 {
        self.detail
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class.digit(), self.subject, self.detail)
    }
}

impl FromStr for EnhancedStatus {
    type Err = StatusParseError;

    /// Strict: exactly `D.N.N` where D is 2, 4 or 5 and each N is one to three digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('.');
        let (Some(class), Some(subject), Some(detail), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(StatusParseError);
        };
        let class = match class.as_bytes() {
            [d] if d.is_ascii_digit() => {
                StatusClass::from_digit(d - b'0').ok_or(StatusParseError)?
            }
            _ => return Err(StatusParseError),
        };
        let number = |part: &str| -> Result<u16, StatusParseError> {
            if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(StatusParseError);
            }
            part.parse().map_err(|_| StatusParseError)
        };
        Self::new(class, number(subject)?, number(detail)?).ok_or(StatusParseError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_good() {
        for (input, shown) in [
            ("2.0.0", "2.0.0"),
            ("2.1.5", "2.1.5"),
            ("4.7.0", "4.7.0"),
            ("5.999.999", "5.999.999"),
            ("5.01.002", "5.1.2"),
        ] {
            let status: EnhancedStatus = input.parse().unwrap();
            assert_eq!(status.to_string(), shown, "{input}");
        }
    }

    #[test]
    fn parse_bad() {
        for (name, input) in [
            ("empty", ""),
            ("class three", "3.0.0"),
            ("class one", "1.0.0"),
            ("two parts", "2.0"),
            ("four parts", "2.0.0.0"),
            ("subject too long", "2.1000.0"),
            ("detail too long", "2.0.1000"),
            ("empty subject", "2..0"),
            ("letters", "2.a.0"),
            ("sign", "2.+1.0"),
            ("two-digit class", "22.0.0"),
            ("trailing space", "2.0.0 "),
        ] {
            assert!(
                input.parse::<EnhancedStatus>().is_err(),
                "{name}: {input:?}"
            );
        }
    }

    #[test]
    fn new_bounds() {
        assert!(EnhancedStatus::new(StatusClass::Success, 999, 999).is_some());
        assert!(EnhancedStatus::new(StatusClass::Success, 1000, 0).is_none());
        assert!(EnhancedStatus::new(StatusClass::Success, 0, 1000).is_none());
    }
}
