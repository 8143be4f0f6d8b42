//! params - MAIL and RCPT parameters (RFC 5321 esmtp-param) we support.
//!
//! MAIL: `SIZE=n` (RFC 1870), `BODY=7BIT|8BITMIME|BINARYMIME` (RFC 6152, 3030),
//! `SMTPUTF8` (RFC 6531), `RET=FULL|HDRS` and `ENVID=xtext` (RFC 3461), `AUTH=xtext`
//! (RFC 4954; parsed and handed over, Postern ignores it).
//! RCPT: `NOTIFY=NEVER|SUCCESS,FAILURE,DELAY` and `ORCPT=addr-type;xtext` (RFC 3461).
//!
//! Keywords are case-insensitive. An unknown keyword is
//! [`CommandError::UnsupportedParameter`] (555), a bad value
//! [`CommandError::InvalidParameter`] (501), a repeated keyword
//! [`CommandError::DuplicateParameter`] (501).

use std::fmt::{self, Write as _};

use super::{CommandError, Verb};
use crate::xtext;

/// Longest ENVID value, encoded (RFC 3461 section 4.4).
pub const MAX_ENVID: usize = 100;
/// Longest ORCPT value including the address type, encoded (RFC 3461 section 4.2).
pub const MAX_ORCPT: usize = 500;

/// The body type declared with `BODY=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// `7BIT`: plain ASCII lines.
    SevenBit,
    /// `8BITMIME`: octets above 127 allowed, still lines of text (RFC 6152).
    EightBitMime,
    /// `BINARYMIME`: arbitrary octets, only with BDAT (RFC 3030). The server refuses it
    /// unless it advertised BINARYMIME.
    BinaryMime,
}

impl Body {
    /// The keyword value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SevenBit => "7BIT",
            Self::EightBitMime => "8BITMIME",
            Self::BinaryMime => "BINARYMIME",
        }
    }
}

/// What a DSN should return of the message (`RET=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `FULL`: the whole message.
    Full,
    /// `HDRS`: the headers only.
    Headers,
}

impl Ret {
    /// The keyword value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Headers => "HDRS",
        }
    }
}

/// The parameters of one MAIL command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// `SIZE=`: the client's estimate of the message size, checked against
    /// `message_size_limit` before any data is sent.
    pub size: Option<u64>,
    /// `BODY=`.
    pub body: Option<Body>,
    /// `SMTPUTF8`: the transaction may use UTF-8 addresses and headers.
    pub smtputf8: bool,
    /// `RET=`, kept in the queue file for DSNs.
    pub ret: Option<Ret>,
    /// `ENVID=`, decoded; kept in the queue file for DSNs.
    pub envid: Option<String>,
    /// `AUTH=`, decoded (`<>` or an address); Postern does not use it.
    pub auth: Option<String>,
}

/// When to send DSNs for a recipient (`NOTIFY=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notify {
    /// `NEVER`: no DSN at all.
    Never,
    /// Some of `SUCCESS`, `FAILURE`, `DELAY`.
    On(NotifyOn),
}

/// The conditions of `NOTIFY=` other than NEVER (at least one is set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NotifyOn {
    /// Report successful delivery.
    pub success: bool,
    /// Report failed delivery.
    pub failure: bool,
    /// Report delayed delivery.
    pub delay: bool,
}

/// The original recipient (`ORCPT=addr-type;xtext`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Orcpt {
    /// The address type, as given (usually `rfc822`; compare case-insensitively).
    pub addr_type: String,
    /// The address, xtext-decoded.
    pub address: String,
}

/// The parameters of one RCPT command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcptParams {
    /// `NOTIFY=`.
    pub notify: Option<Notify>,
    /// `ORCPT=`.
    pub orcpt: Option<Orcpt>,
}

/// One `KEYWORD[=value]`, keyword upper-cased.
struct Param<'a> {
    name: String,
    value: Option<&'a str>,
}

/// Splits parameter text into checked `keyword[=value]` pairs.
fn split_params(verb: Verb, text: &str) -> Result<Vec<Param<'_>>, CommandError> {
    let mut params: Vec<Param<'_>> = Vec::new();
    for word in text.split([' ', '\t']).filter(|word| !word.is_empty()) {
        let (keyword, value) = match word.split_once('=') {
            Some((keyword, value)) => (keyword, Some(value)),
            None => (word, None),
        };
        let keyword_ok = keyword
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && keyword
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !keyword_ok {
            return Err(CommandError::Syntax { verb });
        }
        let name = keyword.to_ascii_uppercase();
        if let Some(value) = value {
            // esmtp-value: one or more printable characters other than '=' (RFC 6531
            // adds UTF-8); controls were refused for the whole line already.
            if value.is_empty() || value.contains('=') {
                return Err(CommandError::InvalidParameter {
                    verb,
                    name,
                    reason: "malformed value",
                });
            }
        }
        if params.iter().any(|seen| seen.name == name) {
            return Err(CommandError::DuplicateParameter { verb, name });
        }
        params.push(Param { name, value });
    }
    Ok(params)
}

fn invalid(verb: Verb, name: String, reason: &'static str) -> CommandError {
    CommandError::InvalidParameter { verb, name, reason }
}

/// The value of a parameter that needs one.
fn required(verb: Verb, param: &Param<'_>) -> Result<String, CommandError> {
    param
        .value
        .map(str::to_owned)
        .ok_or_else(|| invalid(verb, param.name.clone(), "value required"))
}

fn decode_xtext(verb: Verb, name: &str, value: &str, max: usize) -> Result<String, CommandError> {
    if value.len() > max {
        return Err(invalid(verb, name.to_owned(), "too long"));
    }
    xtext::decode(value).map_err(|_| invalid(verb, name.to_owned(), "bad xtext"))
}

pub(super) fn parse_mail(text: &str) -> Result<MailParams, CommandError> {
    let verb = Verb::Mail;
    let mut out = MailParams::default();
    for param in split_params(verb, text)? {
        match param.name.as_str() {
            "SIZE" => {
                let value = required(verb, &param)?;
                let digits_ok = !value.is_empty()
                    && value.len() <= 20
                    && value.bytes().all(|b| b.is_ascii_digit());
                let size = value.parse::<u64>().ok().filter(|_| digits_ok);
                out.size = Some(size.ok_or_else(|| invalid(verb, param.name, "not a number"))?);
            }
            "BODY" => {
                let value = required(verb, &param)?;
                out.body = Some(match value.to_ascii_uppercase().as_str() {
                    "7BIT" => Body::SevenBit,
                    "8BITMIME" => Body::EightBitMime,
                    "BINARYMIME" => Body::BinaryMime,
                    _ => return Err(invalid(verb, param.name, "unknown body type")),
                });
            }
            "SMTPUTF8" => {
                if param.value.is_some() {
                    return Err(invalid(verb, param.name, "takes no value"));
                }
                out.smtputf8 = true;
            }
            "RET" => {
                let value = required(verb, &param)?;
                out.ret = Some(match value.to_ascii_uppercase().as_str() {
                    "FULL" => Ret::Full,
                    "HDRS" => Ret::Headers,
                    _ => return Err(invalid(verb, param.name, "expected FULL or HDRS")),
                });
            }
            "ENVID" => {
                let value = required(verb, &param)?;
                out.envid = Some(decode_xtext(verb, &param.name, &value, MAX_ENVID)?);
            }
            "AUTH" => {
                let value = required(verb, &param)?;
                out.auth = Some(decode_xtext(verb, &param.name, &value, MAX_ORCPT)?);
            }
            _ => {
                return Err(CommandError::UnsupportedParameter {
                    verb,
                    name: param.name,
                });
            }
        }
    }
    Ok(out)
}

pub(super) fn parse_rcpt(text: &str) -> Result<RcptParams, CommandError> {
    let verb = Verb::Rcpt;
    let mut out = RcptParams::default();
    for param in split_params(verb, text)? {
        match param.name.as_str() {
            "NOTIFY" => {
                let value = required(verb, &param)?;
                out.notify = Some(parse_notify(&value).ok_or_else(|| {
                    invalid(verb, param.name, "expected NEVER or SUCCESS,FAILURE,DELAY")
                })?);
            }
            "ORCPT" => {
                let value = required(verb, &param)?;
                if value.len() > MAX_ORCPT {
                    return Err(invalid(verb, param.name, "too long"));
                }
                let (addr_type, address) = value.split_once(';').ok_or_else(|| {
                    invalid(verb, param.name.clone(), "expected addr-type;address")
                })?;
                let type_ok = !addr_type.is_empty()
                    && addr_type
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b));
                if !type_ok {
                    return Err(invalid(verb, param.name, "bad address type"));
                }
                let address = decode_xtext(verb, &param.name, address, MAX_ORCPT)?;
                if address.is_empty() {
                    return Err(invalid(verb, param.name, "empty address"));
                }
                out.orcpt = Some(Orcpt {
                    addr_type: addr_type.to_owned(),
                    address,
                });
            }
            _ => {
                return Err(CommandError::UnsupportedParameter {
                    verb,
                    name: param.name,
                });
            }
        }
    }
    Ok(out)
}

fn parse_notify(value: &str) -> Option<Notify> {
    if value.eq_ignore_ascii_case("NEVER") {
        return Some(Notify::Never);
    }
    let mut on = NotifyOn::default();
    for item in value.split(',') {
        let flag = match item.to_ascii_uppercase().as_str() {
            "SUCCESS" => &mut on.success,
            "FAILURE" => &mut on.failure,
            "DELAY" => &mut on.delay,
            // NEVER combined with anything, an empty item, or an unknown word.
            _ => return None,
        };
        if *flag {
            return None;
        }
        *flag = true;
    }
    Some(Notify::On(on))
}

impl fmt::Display for MailParams {
    /// The parameters as sent after the path, each preceded by a space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(size) = self.size {
            write!(f, " SIZE={size}")?;
        }
        if let Some(body) = self.body {
            write!(f, " BODY={}", body.as_str())?;
        }
        if self.smtputf8 {
            f.write_str(" SMTPUTF8")?;
        }
        if let Some(ret) = self.ret {
            write!(f, " RET={}", ret.as_str())?;
        }
        if let Some(envid) = &self.envid {
            write!(f, " ENVID={}", xtext::encode(envid))?;
        }
        if let Some(auth) = &self.auth {
            write!(f, " AUTH={}", xtext::encode(auth))?;
        }
        Ok(())
    }
}

impl fmt::Display for RcptParams {
    /// The parameters as sent after the path, each preceded by a space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.notify {
            None => {}
            Some(Notify::Never) => f.write_str(" NOTIFY=NEVER")?,
            Some(Notify::On(on)) => {
                let mut list = String::new();
                for (set, word) in [
                    (on.success, "SUCCESS"),
                    (on.failure, "FAILURE"),
                    (on.delay, "DELAY"),
                ] {
                    if set {
                        if !list.is_empty() {
                            list.push(',');
                        }
                        let _ = list.write_str(word);
                    }
                }
                write!(f, " NOTIFY={list}")?;
            }
        }
        if let Some(orcpt) = &self.orcpt {
            write!(
                f,
                " ORCPT={};{}",
                orcpt.addr_type,
                xtext::encode(&orcpt.address)
            )?;
        }
        Ok(())
    }
}
