//! # pop3-proto: sans-I/O POP3 for Postern
//!
//! Commands of RFC 1939 with the extensions of RFC 2449 (CAPA, response codes),
//! RFC 2595 (STLS) and RFC 5034 (AUTH): [`parse`] turns one command line (without its
//! CRLF) into a [`Command`]; [`Response`] renders single-line answers with optional
//! response codes (`-ERR [IN-USE] ...`); [`MultiLine`] dot-stuffs the lines of a
//! multi-line answer. No sockets, no files.
//!
//! # Security
//! Every line is hostile: lengths are bounded ([`MAX_LINE`], [`MAX_AUTH_LINE`]), message
//! numbers are checked numbers, and nothing here panics. Passwords are held in
//! [`Secret`], whose `Debug` prints `[redacted]`.

use std::fmt;

/// The longest command line accepted, CRLF included (RFC 2449 says 255).
pub const MAX_LINE: usize = 255;
/// The longest line accepted during AUTH (a base64 PLAIN response).
pub const MAX_AUTH_LINE: usize = 8192;

/// A password or SASL response: never shown in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A POP3 command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name`.
    User(String),
    /// `PASS password` (the rest of the line, spaces included).
    Pass(Secret),
    /// `AUTH [mechanism [initial-response]]`.
    Auth {
        /// The mechanism, upper case; None lists the mechanisms.
        mechanism: Option<String>,
        /// The initial response (base64, or `=` for empty).
        initial: Option<Secret>,
    },
    /// `APOP name digest` (refused: no shared secrets are stored).
    Apop,
    /// `STLS`.
    Stls,
    /// `CAPA`.
    Capa,
    /// `STAT`.
    Stat,
    /// `LIST [msg]`.
    List(Option<u32>),
    /// `UIDL [msg]`.
    Uidl(Option<u32>),
    /// `RETR msg`.
    Retr(u32),
    /// `TOP msg lines`.
    Top(u32, u32),
    /// `DELE msg`.
    Dele(u32),
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
    /// `QUIT`.
    Quit,
}

impl Command {
    /// The command's name, for the log and error texts.
    pub fn name(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Auth { .. } => "AUTH",
            Command::Apop => "APOP",
            Command::Stls => "STLS",
            Command::Capa => "CAPA",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Retr(_) => "RETR",
            Command::Top(..) => "TOP",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
        }
    }
}

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not a POP3 command.
    #[error("Unknown command")]
    Unknown,
    /// Missing, extra or malformed arguments.
    #[error("Invalid arguments for {0}")]
    Arguments(&'static str),
    /// Not valid UTF-8.
    #[error("Invalid characters in command")]
    Encoding,
}

fn number(text: &str, command: &'static str) -> Result<u32, Error> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Arguments(command));
    }
    text.parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(Error::Arguments(command))
}

/// Parses one command line (without CRLF).
pub fn parse(line: &[u8]) -> Result<Command, Error> {
    let line = std::str::from_utf8(line).map_err(|_| Error::Encoding)?;
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let verb = verb.to_ascii_uppercase();
    let args: Vec<&str> = rest.split(' ').filter(|a| !a.is_empty()).collect();
    let none = |command: &'static str, command_value: Command| {
        if args.is_empty() {
            Ok(command_value)
        } else {
            Err(Error::Arguments(command))
        }
    };
    let optional_number = |command: &'static str| match args.as_slice() {
        [] => Ok(None),
        [n] => number(n, command).map(Some),
        _ => Err(Error::Arguments(command)),
    };
    match verb.as_str() {
        "USER" => match args.as_slice() {
            [name] => Ok(Command::User((*name).to_owned())),
            _ => Err(Error::Arguments("USER")),
        },
        // The password is the whole rest of the line: it may contain spaces.
        "PASS" if !rest.is_empty() => Ok(Command::Pass(Secret(rest.to_owned()))),
        "PASS" => Err(Error::Arguments("PASS")),
        "AUTH" => match args.as_slice() {
            [] => Ok(Command::Auth {
                mechanism: None,
                initial: None,
            }),
            [mechanism] => Ok(Command::Auth {
                mechanism: Some(mechanism.to_ascii_uppercase()),
                initial: None,
            }),
            [mechanism, initial] => Ok(Command::Auth {
                mechanism: Some(mechanism.to_ascii_uppercase()),
                initial: Some(Secret((*initial).to_owned())),
            }),
            _ => Err(Error::Arguments("AUTH")),
        },
        "APOP" => Ok(Command::Apop),
        "STLS" => none("STLS", Command::Stls),
        "CAPA" => none("CAPA", Command::Capa),
        "STAT" => none("STAT", Command::Stat),
        "NOOP" => none("NOOP", Command::Noop),
        "RSET" => none("RSET", Command::Rset),
        "QUIT" => none("QUIT", Command::Quit),
        "LIST" => optional_number("LIST").map(Command::List),
        "UIDL" => optional_number("UIDL").map(Command::Uidl),
        "RETR" => match args.as_slice() {
            [n] => number(n, "RETR").map(Command::Retr),
            _ => Err(Error::Arguments("RETR")),
        },
        "DELE" => match args.as_slice() {
            [n] => number(n, "DELE").map(Command::Dele),
            _ => Err(Error::Arguments("DELE")),
        },
        "TOP" => match args.as_slice() {
            [n, lines] => {
                let lines = if lines.bytes().all(|b| b.is_ascii_digit()) && !lines.is_empty() {
                    lines.parse::<u32>().map_err(|_| Error::Arguments("TOP"))?
                } else {
                    return Err(Error::Arguments("TOP"));
                };
                Ok(Command::Top(number(n, "TOP")?, lines))
            }
            _ => Err(Error::Arguments("TOP")),
        },
        _ => Err(Error::Unknown),
    }
}

/// RFC 2449 / RFC 3206 response codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// `[AUTH]`: the credentials are wrong (or not allowed here).
    Auth,
    /// `[IN-USE]`: another session holds the maildrop.
    InUse,
    /// `[SYS/TEMP]`: a temporary system problem.
    SysTemp,
    /// `[SYS/PERM]`: a permanent system problem.
    SysPerm,
    /// `[LOGIN-DELAY]`: too soon after the last login (used for throttling).
    LoginDelay,
}

impl Code {
    fn as_str(self) -> &'static str {
        match self {
            Code::Auth => "AUTH",
            Code::InUse => "IN-USE",
            Code::SysTemp => "SYS/TEMP",
            Code::SysPerm => "SYS/PERM",
            Code::LoginDelay => "LOGIN-DELAY",
        }
    }
}

/// A single-line response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    ok: bool,
    code: Option<Code>,
    text: String,
}

impl Response {
    /// `+OK text`.
    pub fn ok(text: impl Into<String>) -> Self {
        Response {
            ok: true,
            code: None,
            text: text.into(),
        }
    }

    /// `-ERR text`.
    pub fn err(text: impl Into<String>) -> Self {
        Response {
            ok: false,
            code: None,
            text: text.into(),
        }
    }

    /// `-ERR [CODE] text`.
    pub fn err_code(code: Code, text: impl Into<String>) -> Self {
        Response {
            ok: false,
            code: Some(code),
            text: text.into(),
        }
    }

    /// Whether it is `+OK`.
    pub fn is_ok(&self) -> bool {
        self.ok
    }

    /// Appends the line (CRLF-terminated) to `out`; control characters in the text
    /// become spaces.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.ok { b"+OK" } else { b"-ERR" });
        if let Some(code) = self.code {
            out.extend_from_slice(format!(" [{}]", code.as_str()).as_bytes());
        }
        if !self.text.is_empty() {
            out.push(b' ');
            out.extend(
                self.text
                    .bytes()
                    .map(|b| if b.is_ascii_control() { b' ' } else { b }),
            );
        }
        out.extend_from_slice(b"\r\n");
    }
}

impl From<Error> for Response {
    fn from(e: Error) -> Self {
        Response::err(e.to_string())
    }
}

/// Writes the body of a multi-line response: dot-stuffed CRLF lines, then `.`.
///
/// Fed the message in CRLF form in chunks of any size; lines starting with `.` get
/// another, and the terminating line is added by [`MultiLine::finish`], after a CRLF
/// if the content did not end with one.
#[derive(Debug, Default)]
pub struct MultiLine {
    at_line_start: bool,
    last: Option<u8>,
}

impl MultiLine {
    /// A writer at the start of the body.
    pub fn new() -> Self {
        MultiLine {
            at_line_start: true,
            last: None,
        }
    }

    /// Appends `chunk` to `out`, dot-stuffed.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        for &byte in chunk {
            if self.at_line_start && byte == b'.' {
                out.push(b'.');
            }
            out.push(byte);
            self.at_line_start = byte == b'\n';
            self.last = Some(byte);
        }
    }

    /// Ends the body with `.` on a line of its own.
    pub fn finish(self, out: &mut Vec<u8>) {
        if self.last.is_some_and(|b| b != b'\n') {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        let cases: &[(&str, Result<Command, Error>)] = &[
            (
                "USER alice@example.org",
                Ok(Command::User("alice@example.org".into())),
            ),
            ("user a", Ok(Command::User("a".into()))),
            ("USER", Err(Error::Arguments("USER"))),
            ("USER a b", Err(Error::Arguments("USER"))),
            (
                "PASS secret with spaces",
                Ok(Command::Pass(Secret("secret with spaces".into()))),
            ),
            ("PASS", Err(Error::Arguments("PASS"))),
            ("STAT", Ok(Command::Stat)),
            ("STAT 1", Err(Error::Arguments("STAT"))),
            ("LIST", Ok(Command::List(None))),
            ("LIST 2", Ok(Command::List(Some(2)))),
            ("LIST 0", Err(Error::Arguments("LIST"))),
            ("LIST x", Err(Error::Arguments("LIST"))),
            ("LIST 99999999999", Err(Error::Arguments("LIST"))),
            ("LIST -1", Err(Error::Arguments("LIST"))),
            ("UIDL 1", Ok(Command::Uidl(Some(1)))),
            ("RETR 1", Ok(Command::Retr(1))),
            ("RETR", Err(Error::Arguments("RETR"))),
            ("TOP 1 0", Ok(Command::Top(1, 0))),
            ("TOP 1", Err(Error::Arguments("TOP"))),
            ("TOP 1 x", Err(Error::Arguments("TOP"))),
            ("DELE 3", Ok(Command::Dele(3))),
            ("NOOP", Ok(Command::Noop)),
            ("RSET", Ok(Command::Rset)),
            ("QUIT", Ok(Command::Quit)),
            ("CAPA", Ok(Command::Capa)),
            ("STLS", Ok(Command::Stls)),
            (
                "AUTH",
                Ok(Command::Auth {
                    mechanism: None,
                    initial: None,
                }),
            ),
            (
                "AUTH plain AGEAYg==",
                Ok(Command::Auth {
                    mechanism: Some("PLAIN".into()),
                    initial: Some(Secret("AGEAYg==".into())),
                }),
            ),
            ("APOP a b", Ok(Command::Apop)),
            ("XYZZY", Err(Error::Unknown)),
            ("", Err(Error::Unknown)),
        ];
        for (line, want) in cases {
            assert_eq!(&parse(line.as_bytes()), want, "{line}");
        }
        assert_eq!(parse(b"\xff"), Err(Error::Encoding));
    }

    #[test]
    fn responses() {
        let mut out = Vec::new();
        Response::ok("2 320").write_to(&mut out);
        Response::err_code(Code::InUse, "Mailbox is locked\r\nby another").write_to(&mut out);
        Response::err("").write_to(&mut out);
        assert_eq!(
            out,
            b"+OK 2 320\r\n-ERR [IN-USE] Mailbox is locked  by another\r\n-ERR\r\n"
        );
    }

    #[test]
    fn multi_line_is_dot_stuffed() {
        let mut out = Vec::new();
        let mut body = MultiLine::new();
        body.push(b".first\r\nsecond\r", &mut out);
        body.push(b"\n..third\r\nno newline", &mut out);
        body.finish(&mut out);
        assert_eq!(out, b"..first\r\nsecond\r\n...third\r\nno newline\r\n.\r\n");
        let mut out = Vec::new();
        MultiLine::new().finish(&mut out);
        assert_eq!(out, b".\r\n");
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(line in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = parse(&line);
        }
    }
}
