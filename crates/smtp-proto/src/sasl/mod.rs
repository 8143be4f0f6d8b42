//! sasl - AUTH PLAIN (RFC 4616) and LOGIN exchanges, server side, sans I/O.
//!
//! [`AuthExchange::start`] takes the mechanism and initial response of an AUTH command
//! and returns either the credentials at once or an exchange waiting for the client's
//! next line, with the 334 challenge to send. Feed each following line (without CRLF)
//! to [`AuthExchange::respond`]. A line `*` cancels (RFC 4954: `501 5.7.0`).
//!
//! The exchange only decodes: checking the password, rate limiting failures and
//! requiring TLS belong to the server.
//!
//! # Security
//!
//! Passwords and raw responses live in [`Secret`], whose `Debug` prints `[redacted]`
//! and whose memory is overwritten on drop (best effort: copies made by the allocator
//! when a string grows are out of reach). Responses are bounded by
//! [`MAX_RESPONSE_LINE`] before decoding.

mod secret;

use std::fmt;

pub use secret::Secret;

use crate::base64::{self, Base64Error};
use crate::reply::Reply;

/// Longest client response line in an exchange, in octets including CRLF (RFC 4954).
pub const MAX_RESPONSE_LINE: usize = 12_288;
/// The LOGIN challenge for the user name: base64 of `Username:`.
pub const LOGIN_USERNAME_CHALLENGE: &str = "VXNlcm5hbWU6";
/// The LOGIN challenge for the password: base64 of `Password:`.
pub const LOGIN_PASSWORD_CHALLENGE: &str = "UGFzc3dvcmQ6";

/// A SASL mechanism name (`sasl-mech`: 1 to 20 of `A-Z 0-9 - _`, any case on input).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// PLAIN (RFC 4616).
    Plain,
    /// LOGIN (the de-facto mechanism of older clients).
    Login,
    /// Any other syntactically valid name, upper-cased. Postern does not offer these;
    /// the client side sees them in a server's EHLO reply.
    Other(String),
}

impl Mechanism {
    /// Parses a mechanism name; `None` if it does not fit `sasl-mech`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        let valid = (1..=20).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return None;
        }
        let upper = name.to_ascii_uppercase();
        Some(match upper.as_str() {
            "PLAIN" => Self::Plain,
            "LOGIN" => Self::Login,
            _ => Self::Other(upper),
        })
    }

    /// The name as sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Plain => "PLAIN",
            Self::Login => "LOGIN",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an exchange yields: who claims to be whom, and the password to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication identity (login name), as sent. Not secret: log it as
    /// `sasl_username=`.
    pub username: String,
    /// The password.
    pub password: Secret,
}

/// Why an AUTH exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The client sent `*`.
    #[error("client cancelled the authentication exchange")]
    Cancelled,
    /// The response is not valid base64.
    #[error("response is not valid base64: {0}")]
    InvalidBase64(#[from] Base64Error),
    /// The decoded response is not what the mechanism expects (PLAIN without two NULs,
    /// an empty name or password, not UTF-8).
    #[error("malformed credentials")]
    Malformed,
    /// PLAIN with an authorization identity other than the authentication identity;
    /// Postern does not let one user act as another.
    #[error("authorization identity differs from authentication identity")]
    AuthzidMismatch,
    /// A mechanism Postern does not offer.
    #[error("unsupported mechanism")]
    UnsupportedMechanism,
    /// A response line longer than [`MAX_RESPONSE_LINE`].
    #[error("response line longer than {MAX_RESPONSE_LINE} octets")]
    ResponseTooLong,
}

impl SaslError {
    /// The reply the server sends for this error.
    #[must_use]
    pub fn reply(&self) -> Reply {
        match self {
            Self::Cancelled => Reply::auth_cancelled(),
            Self::InvalidBase64(_) => Reply::auth_bad_response(),
            Self::Malformed | Self::AuthzidMismatch => Reply::auth_failed(),
            Self::UnsupportedMechanism => Reply::auth_mechanism_unsupported(),
            Self::ResponseTooLong => Reply::auth_line_too_long(),
        }
    }
}

/// The next step of an exchange.
#[derive(Debug)]
pub enum AuthStep {
    /// Send [`AuthExchange::challenge`], then pass the client's next line to
    /// [`AuthExchange::respond`].
    Challenge(AuthExchange),
    /// The exchange is over: check these credentials.
    Done(Credentials),
}

/// An AUTH exchange waiting for the client's next line.
#[derive(Debug)]
pub struct AuthExchange {
    awaiting: Awaiting,
}

#[derive(Debug)]
enum Awaiting {
    PlainResponse,
    LoginUsername,
    LoginPassword { username: String },
}

impl AuthExchange {
    /// Starts an exchange for `AUTH mechanism [initial_response]`.
    ///
    /// # Errors
    ///
    /// [`SaslError::UnsupportedMechanism`] for anything but PLAIN and LOGIN, or the
    /// error of decoding the initial response.
    pub fn start(
        mechanism: &Mechanism,
        initial_response: Option<&Secret>,
    ) -> Result<AuthStep, SaslError> {
        let initial =
            initial_response.map(|response| decode_response(response.expose().as_bytes()));
        match (mechanism, initial) {
            (Mechanism::Plain, None) => Ok(AuthStep::Challenge(Self {
                awaiting: Awaiting::PlainResponse,
            })),
            (Mechanism::Plain, Some(decoded)) => parse_plain(decoded?).map(AuthStep::Done),
            (Mechanism::Login, None) => Ok(AuthStep::Challenge(Self {
                awaiting: Awaiting::LoginUsername,
            })),
            (Mechanism::Login, Some(decoded)) => Ok(AuthStep::Challenge(Self {
                awaiting: Awaiting::LoginPassword {
                    username: into_text(decoded?)?,
                },
            })),
            (Mechanism::Other(_), _) => Err(SaslError::UnsupportedMechanism),
        }
    }

    /// The 334 reply to send now.
    #[must_use]
    pub fn challenge(&self) -> Reply {
        match self.awaiting {
            Awaiting::PlainResponse => Reply::auth_challenge(""),
            Awaiting::LoginUsername => Reply::auth_challenge(LOGIN_USERNAME_CHALLENGE),
            Awaiting::LoginPassword { .. } => Reply::auth_challenge(LOGIN_PASSWORD_CHALLENGE),
        }
    }

    /// Takes the client's response line (without CRLF).
    ///
    /// # Errors
    ///
    /// [`SaslError`]; the exchange is over either way.
    pub fn respond(self, line: &[u8]) -> Result<AuthStep, SaslError> {
        if line.len().saturating_add(2) > MAX_RESPONSE_LINE {
            return Err(SaslError::ResponseTooLong);
        }
        if line == b"*" {
            return Err(SaslError::Cancelled);
        }
        let decoded = decode_response(line);
        match self.awaiting {
            Awaiting::PlainResponse => parse_plain(decoded?).map(AuthStep::Done),
            Awaiting::LoginUsername => Ok(AuthStep::Challenge(Self {
                awaiting: Awaiting::LoginPassword {
                    username: into_text(decoded?)?,
                },
            })),
            Awaiting::LoginPassword { username } => Ok(AuthStep::Done(Credentials {
                username,
                password: Secret::new(into_text(decoded?)?),
            })),
        }
    }
}

/// Decodes a complete SASL PLAIN response (base64 of `authzid NUL authcid NUL
/// passwd`), as POP3's AUTH and IMAP's AUTHENTICATE receive it.
///
/// # Errors
///
/// [`SaslError::Cancelled`] for `*`, else as for an SMTP AUTH PLAIN exchange.
pub fn decode_plain(response: &[u8]) -> Result<Credentials, SaslError> {
    if response == b"*" {
        return Err(SaslError::Cancelled);
    }
    parse_plain(decode_response(response)?)
}

/// Decodes a response; `=` (used for an empty initial response) is empty.
fn decode_response(text: &[u8]) -> Result<Vec<u8>, SaslError> {
    if text == b"=" {
        return Ok(Vec::new());
    }
    Ok(base64::decode(text)?)
}

/// A non-empty UTF-8 string from decoded bytes; the bytes are wiped on failure.
fn into_text(bytes: Vec<u8>) -> Result<String, SaslError> {
    if bytes.is_empty() {
        return Err(SaslError::Malformed);
    }
    String::from_utf8(bytes).map_err(|error| {
        let mut bytes = error.into_bytes();
        bytes.fill(0);
        SaslError::Malformed
    })
}

/// Splits a decoded PLAIN message `authzid NUL authcid NUL passwd`.
fn parse_plain(mut decoded: Vec<u8>) -> Result<Credentials, SaslError> {
    let result = split_plain(&decoded);
    decoded.fill(0);
    result
}

fn split_plain(decoded: &[u8]) -> Result<Credentials, SaslError> {
    let mut parts = decoded.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    let (authzid, authcid, password) = (utf8(authzid)?, utf8(authcid)?, utf8(password)?);
    if authcid.is_empty() || password.is_empty() {
        return Err(SaslError::Malformed);
    }
    if !authzid.is_empty() && authzid != authcid {
        return Err(SaslError::AuthzidMismatch);
    }
    Ok(Credentials {
        username: authcid.to_owned(),
        password: Secret::new(password),
    })
}

fn utf8(bytes: &[u8]) -> Result<&str, SaslError> {
    std::str::from_utf8(bytes).map_err(|_| SaslError::Malformed)
}

/// The PLAIN response a client sends: base64 of `NUL username NUL password`.
#[must_use]
pub fn encode_plain(username: &str, password: &Secret) -> Secret {
    let mut message = Vec::with_capacity(username.len() + password.expose().len() + 2);
    message.push(0);
    message.extend_from_slice(username.as_bytes());
    message.push(0);
    message.extend_from_slice(password.expose().as_bytes());
    let encoded = Secret::new(base64::encode(&message));
    message.fill(0);
    encoded
}

#[cfg(test)]
mod tests;
