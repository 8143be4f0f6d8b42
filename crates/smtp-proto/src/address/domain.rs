//! domain - domain names and address literals.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{AddressError, MAX_DOMAIN, MAX_LABEL};

/// A syntactically valid domain name: dot-separated labels of letters, digits and
/// hyphens (not at either end of a label), 1 to 63 octets each, 255 octets in all.
///
/// Labels may also hold non-ASCII characters (U-labels, RFC 6531); [`is_ascii`]
/// says whether any are present, so the caller can require SMTPUTF8. No IDNA mapping is
/// done. The name keeps the case it was given: compare with [`eq_ignore_case`] or
/// [`to_lowercase`].
///
/// [`is_ascii`]: DomainName::is_ascii
/// [`eq_ignore_case`]: DomainName::eq_ignore_case
/// [`to_lowercase`]: DomainName::to_lowercase
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainName(String);

impl DomainName {
    /// Checks `name` (no trailing dot, no brackets).
    ///
    /// # Errors
    ///
    /// [`AddressError::InvalidDomain`], [`AddressError::LabelTooLong`] or
    /// [`AddressError::DomainTooLong`].
    pub fn parse(name: &str) -> Result<Self, AddressError> {
        if name.is_empty() {
            return Err(AddressError::InvalidDomain);
        }
        if name.len() > MAX_DOMAIN {
            return Err(AddressError::DomainTooLong);
        }
        for label in name.split('.') {
            check_label(label)?;
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name is all ASCII (no U-labels).
    #[must_use]
    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }

    /// The name in lower case, for lookups and comparisons.
    #[must_use]
    pub fn to_lowercase(&self) -> String {
        self.0.to_lowercase()
    }

    /// Whether `other` names the same domain, ignoring case.
    #[must_use]
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        if self.0.is_ascii() && other.is_ascii() {
            self.0.eq_ignore_ascii_case(other)
        } else {
            self.0.to_lowercase() == other.to_lowercase()
        }
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_label(label: &str) -> Result<(), AddressError> {
    if label.is_empty() {
        return Err(AddressError::InvalidDomain);
    }
    if label.len() > MAX_LABEL {
        return Err(AddressError::LabelTooLong);
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(AddressError::InvalidDomain);
    }
    if label
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || is_utf8_text(c))
    {
        Ok(())
    } else {
        Err(AddressError::InvalidDomain)
    }
}

/// A non-ASCII character acceptable in an address: not a control and not white space
/// (no NEL, NBSP or line separators sneaking into logs or headers).
pub(super) fn is_utf8_text(c: char) -> bool {
    !c.is_ascii() && !c.is_control() && !c.is_whitespace()
}

/// Bytes that can appear in a domain name (the scanner stops at anything else).
pub(super) fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b >= 0x80
}

/// The domain of a mailbox: a name, or an address literal (`[192.0.2.1]`,
/// `[IPv6:2001:db8::1]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Domain {
    /// A domain name.
    Name(DomainName),
    /// An address literal. Only the IPv4 and IPv6 forms are accepted; RFC 5321's
    /// general address literal (`[tag:text]`) has no registered tags worth supporting.
    Literal(IpAddr),
}

impl Domain {
    /// Parses a domain name or a bracketed address literal.
    ///
    /// # Errors
    ///
    /// The [`AddressError`] of [`DomainName::parse`], or
    /// [`AddressError::InvalidAddressLiteral`].
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        match text.strip_prefix('[') {
            Some(rest) => {
                let inner = rest
                    .strip_suffix(']')
                    .ok_or(AddressError::InvalidAddressLiteral)?;
                parse_literal(inner).map(Self::Literal)
            }
            None => DomainName::parse(text).map(Self::Name),
        }
    }

    /// Whether the domain is all ASCII.
    #[must_use]
    pub fn is_ascii(&self) -> bool {
        match self {
            Self::Name(name) => name.is_ascii(),
            Self::Literal(_) => true,
        }
    }

    /// The domain in lower case as it is written in an address (literals bracketed).
    #[must_use]
    pub fn to_lowercase(&self) -> String {
        match self {
            Self::Name(name) => name.to_lowercase(),
            Self::Literal(_) => self.to_string().to_lowercase(),
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name.as_str()),
            Self::Literal(IpAddr::V4(ip)) => write!(f, "[{ip}]"),
            Self::Literal(IpAddr::V6(ip)) => write!(f, "[IPv6:{ip}]"),
        }
    }
}

/// Parses the inside of an address literal (between the brackets).
pub(crate) fn parse_literal(inner: &str) -> Result<IpAddr, AddressError> {
    let tag = inner.get(..5);
    if tag.is_some_and(|tag| tag.eq_ignore_ascii_case("IPv6:")) {
        let v6 = inner.get(5..).ok_or(AddressError::InvalidAddressLiteral)?;
        return v6
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| AddressError::InvalidAddressLiteral);
    }
    // std's parser takes exactly four decimal octets without leading zeros, which is
    // RFC 5321's `IPv4-address-literal` minus the leading-zero forms nobody sends.
    inner
        .parse::<Ipv4Addr>()
        .map(IpAddr::V4)
        .map_err(|_| AddressError::InvalidAddressLiteral)
}
