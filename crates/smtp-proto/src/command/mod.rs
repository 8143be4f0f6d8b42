//! command - SMTP commands: line splitting, parsing, and rendering for the client.
//!
//! [`parse_command`] takes one line without its CRLF (as [`LineReader`] returns it) and
//! gives a [`Command`] or a [`CommandError`] that knows its reply.
//!
//! # What is accepted
//!
//! - Verbs and parameter keywords in any case. Runs of spaces or tabs between words and
//!   trailing white space are tolerated, as Postfix does.
//! - `MAIL FROM:<path>` and `RCPT TO:<path>`, also with spaces after the colon
//!   (`MAIL FROM: <a@example.org>`, which many clients send). A path without angle
//!   brackets is refused.
//! - The arguments must be UTF-8 without control characters other than HTAB (a NUL or a
//!   bare CR inside a line is refused). Non-ASCII is allowed where RFC 6531 allows it;
//!   see [`crate::address`] for how SMTPUTF8 is checked.
//!
//! # Line limits
//!
//! RFC 5321 4.5.3.1.4 limits a command line to [`MAX_COMMAND_LINE`] octets including
//! CRLF. Extensions lengthen MAIL and RCPT (SIZE, DSN's ENVID and ORCPT of up to 100
//! and 500 characters, AUTH= of up to 500), so those get [`MAX_MAIL_RCPT_LINE`]; AUTH
//! with an initial response gets [`MAX_AUTH_LINE`] (RFC 4954 section 4). SMTPUTF8 does
//! not change the limits, which count octets, not characters. [`MAX_LINE`] is the
//! largest of them: the bound for reading a line before its verb is known.

mod error;
mod line;
mod params;

use std::fmt;
use std::net::IpAddr;

pub use error::CommandError;
pub use line::{Line, LineReader, LineTooLong};
pub use params::{
    Body, MAX_ENVID, MAX_ORCPT, MailParams, Notify, NotifyOn, Orcpt, RcptParams, Ret,
};

use crate::address::{
    self, DomainName, ForwardPath, ParsedPath, ReversePath, parse_literal, parse_path,
};
use crate::sasl::{Mechanism, Secret};

/// RFC 5321's command line limit, in octets including CRLF.
pub const MAX_COMMAND_LINE: usize = 512;
/// Limit for MAIL and RCPT lines with extension parameters, including CRLF.
pub const MAX_MAIL_RCPT_LINE: usize = 2048;
/// Limit for an AUTH line with an initial response, including CRLF (RFC 4954).
pub const MAX_AUTH_LINE: usize = 12_288;
/// The longest line any command may have: the bound for [`LineReader`].
pub const MAX_LINE: usize = MAX_AUTH_LINE;

/// The command verbs Postern knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// EHLO.
    Ehlo,
    /// HELO.
    Helo,
    /// MAIL.
    Mail,
    /// RCPT.
    Rcpt,
    /// DATA.
    Data,
    /// BDAT (RFC 3030).
    Bdat,
    /// RSET.
    Rset,
    /// NOOP.
    Noop,
    /// QUIT.
    Quit,
    /// VRFY.
    Vrfy,
    /// EXPN.
    Expn,
    /// HELP.
    Help,
    /// STARTTLS (RFC 3207).
    StartTls,
    /// AUTH (RFC 4954).
    Auth,
}

impl Verb {
    const ALL: [Self; 14] = [
        Self::Ehlo,
        Self::Helo,
        Self::Mail,
        Self::Rcpt,
        Self::Data,
        Self::Bdat,
        Self::Rset,
        Self::Noop,
        Self::Quit,
        Self::Vrfy,
        Self::Expn,
        Self::Help,
        Self::StartTls,
        Self::Auth,
    ];

    /// The verb as written on the wire (upper case).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ehlo => "EHLO",
            Self::Helo => "HELO",
            Self::Mail => "MAIL",
            Self::Rcpt => "RCPT",
            Self::Data => "DATA",
            Self::Bdat => "BDAT",
            Self::Rset => "RSET",
            Self::Noop => "NOOP",
            Self::Quit => "QUIT",
            Self::Vrfy => "VRFY",
            Self::Expn => "EXPN",
            Self::Help => "HELP",
            Self::StartTls => "STARTTLS",
            Self::Auth => "AUTH",
        }
    }

    /// The verb in lower case, as Postfix's disconnect line counts it (`ehlo=1`).
    #[must_use]
    pub const fn counter_name(self) -> &'static str {
        match self {
            Self::Ehlo => "ehlo",
            Self::Helo => "helo",
            Self::Mail => "mail",
            Self::Rcpt => "rcpt",
            Self::Data => "data",
            Self::Bdat => "bdat",
            Self::Rset => "rset",
            Self::Noop => "noop",
            Self::Quit => "quit",
            Self::Vrfy => "vrfy",
            Self::Expn => "expn",
            Self::Help => "help",
            Self::StartTls => "starttls",
            Self::Auth => "auth",
        }
    }

    /// The syntax, for `501 5.5.4 Syntax: ...` replies.
    #[must_use]
    pub const fn usage(self) -> &'static str {
        match self {
            Self::Ehlo => "EHLO hostname",
            Self::Helo => "HELO hostname",
            Self::Mail => "MAIL FROM:<address>",
            Self::Rcpt => "RCPT TO:<address>",
            Self::Data => "DATA",
            Self::Bdat => "BDAT size [LAST]",
            Self::Rset => "RSET",
            Self::Noop => "NOOP [text]",
            Self::Quit => "QUIT",
            Self::Vrfy => "VRFY address",
            Self::Expn => "EXPN list",
            Self::Help => "HELP [topic]",
            Self::StartTls => "STARTTLS",
            Self::Auth => "AUTH mechanism [initial-response]",
        }
    }

    /// The longest line this command may have, in octets including CRLF.
    #[must_use]
    pub const fn line_limit(self) -> usize {
        match self {
            Self::Mail | Self::Rcpt => MAX_MAIL_RCPT_LINE,
            Self::Auth => MAX_AUTH_LINE,
            _ => MAX_COMMAND_LINE,
        }
    }

    fn from_word(word: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|verb| verb.as_str().as_bytes().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The argument of EHLO or HELO.
///
/// RFC 5321 asks for a domain name or an address literal, but many real clients send
/// something else (a Windows host name with `_`, a bare IP address). Like Postfix by
/// default, the parser accepts any single word and says which kind it was; rejecting
/// [`HeloName::Other`] is the server's policy (`reject_invalid_helo_hostname`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HeloName {
    /// A valid domain name.
    Domain(DomainName),
    /// An address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`).
    Literal(IpAddr),
    /// Anything else: one word of printable text, as sent.
    Other(String),
}

impl HeloName {
    /// Classifies one word of HELO/EHLO argument.
    #[must_use]
    pub fn parse(word: &str) -> Self {
        let literal = word
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|inner| parse_literal(inner).ok());
        if let Some(ip) = literal {
            return Self::Literal(ip);
        }
        match DomainName::parse(word) {
            Ok(name) => Self::Domain(name),
            Err(_) => Self::Other(word.to_owned()),
        }
    }

    /// Whether the name is a valid domain or address literal.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

impl fmt::Display for HeloName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Domain(name) => f.write_str(name.as_str()),
            Self::Literal(IpAddr::V4(ip)) => write!(f, "[{ip}]"),
            Self::Literal(IpAddr::V6(ip)) => write!(f, "[IPv6:{ip}]"),
            Self::Other(text) => f.write_str(text),
        }
    }
}

/// MAIL FROM with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFrom {
    /// The reverse path (`<>` for bounces).
    pub path: ReversePath,
    /// The parameters.
    pub params: MailParams,
}

/// RCPT TO with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcptTo {
    /// The forward path. If it is not ASCII and the transaction did not declare
    /// SMTPUTF8, answer [`Reply::smtputf8_required`](crate::Reply::smtputf8_required).
    pub path: ForwardPath,
    /// The parameters.
    pub params: RcptParams,
}

/// One parsed SMTP command.
///
/// `Debug` never shows an AUTH initial response (it is a [`Secret`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO name`.
    Ehlo(HeloName),
    /// `HELO name`.
    Helo(HeloName),
    /// `MAIL FROM:<path> [params]`.
    Mail(MailFrom),
    /// `RCPT TO:<path> [params]`.
    Rcpt(RcptTo),
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]`: exactly `size` octets of message follow the line.
    Bdat {
        /// The chunk size in octets.
        size: u64,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `NOOP [text]` (the text is ignored).
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY text`.
    Vrfy(String),
    /// `EXPN text`.
    Expn(String),
    /// `HELP [topic]`.
    Help(Option<String>),
    /// `STARTTLS`.
    StartTls,
    /// `AUTH mechanism [initial-response]`.
    Auth {
        /// The mechanism, upper-cased. Unknown mechanisms parse as
        /// [`Mechanism::Other`]; [`AuthExchange::start`](crate::AuthExchange::start)
        /// refuses them.
        mechanism: Mechanism,
        /// The initial response as sent (base64, or `=` for an empty one).
        initial_response: Option<Secret>,
    },
}

impl Command {
    /// The command's verb.
    #[must_use]
    pub fn verb(&self) -> Verb {
        match self {
            Self::Ehlo(_) => Verb::Ehlo,
            Self::Helo(_) => Verb::Helo,
            Self::Mail(_) => Verb::Mail,
            Self::Rcpt(_) => Verb::Rcpt,
            Self::Data => Verb::Data,
            Self::Bdat { .. } => Verb::Bdat,
            Self::Rset => Verb::Rset,
            Self::Noop => Verb::Noop,
            Self::Quit => Verb::Quit,
            Self::Vrfy(_) => Verb::Vrfy,
            Self::Expn(_) => Verb::Expn,
            Self::Help(_) => Verb::Help,
            Self::StartTls => Verb::StartTls,
            Self::Auth { .. } => Verb::Auth,
        }
    }

    /// Appends the command line, with CRLF, as a client sends it. Control characters
    /// in free text become spaces. An AUTH initial response is written out in full:
    /// never log these bytes.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let line = match self {
            Self::Ehlo(name) => format!("EHLO {name}"),
            Self::Helo(name) => format!("HELO {name}"),
            Self::Mail(mail) => format!("MAIL FROM:<{}>{}", mail.path, mail.params),
            Self::Rcpt(rcpt) => format!("RCPT TO:<{}>{}", rcpt.path, rcpt.params),
            Self::Bdat { size, last: true } => format!("BDAT {size} LAST"),
            Self::Bdat { size, last: false } => format!("BDAT {size}"),
            Self::Vrfy(text) => format!("VRFY {text}"),
            Self::Expn(text) => format!("EXPN {text}"),
            Self::Help(Some(topic)) => format!("HELP {topic}"),
            Self::Auth {
                mechanism,
                initial_response: Some(response),
            } => {
                let response = if response.expose().is_empty() {
                    "="
                } else {
                    response.expose()
                };
                format!("AUTH {mechanism} {response}")
            }
            Self::Auth {
                mechanism,
                initial_response: None,
            } => format!("AUTH {mechanism}"),
            Self::Data
            | Self::Rset
            | Self::Noop
            | Self::Quit
            | Self::Help(None)
            | Self::StartTls => self.verb().as_str().to_owned(),
        };
        // Free text (VRFY, HELP, an `Other` HELO name) built by a caller could hold a
        // CR or LF; it must never split into a second command.
        for c in line.chars() {
            let c = if c.is_control() { ' ' } else { c };
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses one command line (without its CRLF).
///
/// # Errors
///
/// A [`CommandError`]; answer with its [`reply`](CommandError::reply).
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    let verb_end = line
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(line.len());
    let word = line.get(..verb_end).unwrap_or_default();
    let verb = Verb::from_word(word);
    let limit = verb.map_or(MAX_COMMAND_LINE, Verb::line_limit);
    if line.len().saturating_add(2) > limit {
        return Err(CommandError::LineTooLong { verb, limit });
    }
    let verb = verb.ok_or(CommandError::Unrecognized)?;
    let text = std::str::from_utf8(line).map_err(|_| CommandError::InvalidUtf8 { verb })?;
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(CommandError::ControlCharacter { verb });
    }
    let args = text
        .get(verb_end..)
        .unwrap_or_default()
        .trim_matches([' ', '\t']);
    let syntax = CommandError::Syntax { verb };
    let mut words = args.split([' ', '\t']).filter(|word| !word.is_empty());
    let (first, second, third) = (words.next(), words.next(), words.next());
    match verb {
        Verb::Ehlo | Verb::Helo => {
            let (Some(name), None) = (first, second) else {
                return Err(syntax);
            };
            let name = HeloName::parse(name);
            Ok(if verb == Verb::Ehlo {
                Command::Ehlo(name)
            } else {
                Command::Helo(name)
            })
        }
        Verb::Mail => parse_mail(args),
        Verb::Rcpt => parse_rcpt(args),
        Verb::Data | Verb::Rset | Verb::Quit | Verb::StartTls => {
            if !args.is_empty() {
                return Err(syntax);
            }
            Ok(match verb {
                Verb::Data => Command::Data,
                Verb::Rset => Command::Rset,
                Verb::Quit => Command::Quit,
                _ => Command::StartTls,
            })
        }
        Verb::Noop => Ok(Command::Noop),
        Verb::Vrfy | Verb::Expn => {
            if args.is_empty() {
                return Err(syntax);
            }
            Ok(if verb == Verb::Vrfy {
                Command::Vrfy(args.to_owned())
            } else {
                Command::Expn(args.to_owned())
            })
        }
        Verb::Help => Ok(Command::Help((!args.is_empty()).then(|| args.to_owned()))),
        Verb::Bdat => {
            let (Some(size), None) = (first, third) else {
                return Err(syntax);
            };
            let last = match second {
                None => false,
                Some(word) if word.eq_ignore_ascii_case("LAST") => true,
                Some(_) => return Err(syntax),
            };
            let digits_ok =
                size.len() <= 20 && !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit());
            let size = size
                .parse::<u64>()
                .ok()
                .filter(|_| digits_ok)
                .ok_or(syntax)?;
            Ok(Command::Bdat { size, last })
        }
        Verb::Auth => {
            let (Some(name), None) = (first, third) else {
                return Err(syntax);
            };
            let mechanism = Mechanism::parse(name).ok_or(syntax)?;
            Ok(Command::Auth {
                mechanism,
                initial_response: second.map(Secret::new),
            })
        }
    }
}

/// Strips `prefix` (ASCII, any case) from the start of `text`.
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

/// Splits `FROM:<path> params` (after the keyword) into the path and the rest.
fn split_path<'a>(
    args: &'a str,
    keyword: &str,
    verb: Verb,
) -> Result<(Result<ParsedPath, address::AddressError>, &'a str), CommandError> {
    let rest = strip_prefix_ignore_case(args, keyword).ok_or(CommandError::Syntax { verb })?;
    let rest = rest.trim_start_matches([' ', '\t']);
    if !rest.starts_with('<') {
        return Err(CommandError::Syntax { verb });
    }
    match parse_path(rest) {
        Ok((path, end)) => {
            let params = rest.get(end..).unwrap_or_default();
            if !params.is_empty() && !params.starts_with([' ', '\t']) {
                return Err(CommandError::Syntax { verb });
            }
            Ok((Ok(path), params))
        }
        Err(error) => Ok((Err(error), "")),
    }
}

fn parse_mail(args: &str) -> Result<Command, CommandError> {
    let (path, params) = split_path(args, "FROM:", Verb::Mail)?;
    let path = match path.map_err(CommandError::BadSender)? {
        ParsedPath::Null => ReversePath::Null,
        ParsedPath::Postmaster => {
            return Err(CommandError::BadSender(
                address::AddressError::MissingDomain,
            ));
        }
        ParsedPath::Mailbox(mailbox) => ReversePath::Mailbox(mailbox),
    };
    let params = params::parse_mail(params)?;
    if !path.is_ascii() && !params.smtputf8 {
        return Err(CommandError::Smtputf8Required);
    }
    Ok(Command::Mail(MailFrom { path, params }))
}

fn parse_rcpt(args: &str) -> Result<Command, CommandError> {
    let (path, params) = split_path(args, "TO:", Verb::Rcpt)?;
    let path = path
        .and_then(ForwardPath::from_parsed)
        .map_err(CommandError::BadRecipient)?;
    let params = params::parse_rcpt(params)?;
    Ok(Command::Rcpt(RcptTo { path, params }))
}

#[cfg(test)]
mod tests;
