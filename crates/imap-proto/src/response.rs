//! Status responses: `tag OK|NO|BAD [CODE] text`, `* OK|NO|BAD|PREAUTH|BYE ...`.
//!
//! Every reply imapd sends that carries a status is one of these values, so the codes
//! and their arguments are spelled in one place.

use std::fmt::Write as _;

/// The status word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// OK.
    Ok,
    /// NO: the command failed.
    No,
    /// BAD: the command was not understood or not allowed now.
    Bad,
    /// PREAUTH (greeting only).
    PreAuth,
    /// BYE: the server is closing the connection.
    Bye,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::PreAuth => "PREAUTH",
            Status::Bye => "BYE",
        }
    }
}

/// A response code (RFC 3501 7.1, RFC 5530, RFC 4315, RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// ALERT.
    Alert,
    /// BADCHARSET (supported charsets).
    BadCharset(Vec<String>),
    /// CAPABILITY list.
    Capability(Vec<String>),
    /// PARSE.
    Parse,
    /// PERMANENTFLAGS (flags as written, e.g. `\Seen`, `\*`).
    PermanentFlags(Vec<String>),
    /// READ-ONLY.
    ReadOnly,
    /// READ-WRITE.
    ReadWrite,
    /// TRYCREATE.
    TryCreate,
    /// UIDNEXT n.
    UidNext(u32),
    /// UIDVALIDITY n.
    UidValidity(u32),
    /// UNSEEN n.
    Unseen(u32),
    /// APPENDUID validity uid.
    AppendUid(u32, u32),
    /// COPYUID validity source-set destination-set.
    CopyUid(u32, String, String),
    /// HIGHESTMODSEQ n.
    HighestModSeq(u64),
    /// NOMODSEQ.
    NoModSeq,
    /// MODIFIED set.
    Modified(String),
    /// CLOSED (RFC 7162: the previous mailbox was closed by SELECT).
    Closed,
    /// ALREADYEXISTS.
    AlreadyExists,
    /// NONEXISTENT.
    NonExistent,
    /// CANNOT.
    Cannot,
    /// INUSE.
    InUse,
    /// SERVERBUG.
    ServerBug,
    /// AUTHENTICATIONFAILED.
    AuthenticationFailed,
    /// AUTHORIZATIONFAILED.
    AuthorizationFailed,
    /// UNAVAILABLE.
    Unavailable,
    /// PRIVACYREQUIRED.
    PrivacyRequired,
    /// LIMIT.
    Limit,
    /// OVERQUOTA.
    OverQuota,
    /// TOOBIG (RFC 7889 APPENDLIMIT / literal too large).
    TooBig,
    /// CLIENTBUG.
    ClientBug,
    /// EXPUNGEISSUED.
    ExpungeIssued,
    /// NOPERM.
    NoPerm,
    /// CONTACTADMIN.
    ContactAdmin,
    /// UNKNOWN-CTE (RFC 3516: BINARY of a part with an unknown encoding).
    UnknownCte,
}

impl Code {
    fn write(&self, out: &mut String) {
        let list = |out: &mut String, name: &str, items: &[String]| {
            out.push_str(name);
            for item in items {
                out.push(' ');
                out.push_str(item);
            }
        };
        let _ = match self {
            Code::Alert => write!(out, "ALERT"),
            Code::BadCharset(sets) => {
                out.push_str("BADCHARSET");
                if !sets.is_empty() {
                    let _ = write!(out, " ({})", sets.join(" "));
                }
                Ok(())
            }
            Code::Capability(caps) => {
                list(out, "CAPABILITY", caps);
                Ok(())
            }
            Code::Parse => write!(out, "PARSE"),
            Code::PermanentFlags(flags) => write!(out, "PERMANENTFLAGS ({})", flags.join(" ")),
            Code::ReadOnly => write!(out, "READ-ONLY"),
            Code::ReadWrite => write!(out, "READ-WRITE"),
            Code::TryCreate => write!(out, "TRYCREATE"),
            Code::UidNext(n) => write!(out, "UIDNEXT {n}"),
            Code::UidValidity(n) => write!(out, "UIDVALIDITY {n}"),
            Code::Unseen(n) => write!(out, "UNSEEN {n}"),
            Code::AppendUid(v, u) => write!(out, "APPENDUID {v} {u}"),
            Code::CopyUid(v, from, to) => write!(out, "COPYUID {v} {from} {to}"),
            Code::HighestModSeq(n) => write!(out, "HIGHESTMODSEQ {n}"),
            Code::NoModSeq => write!(out, "NOMODSEQ"),
            Code::Modified(set) => write!(out, "MODIFIED {set}"),
            Code::Closed => write!(out, "CLOSED"),
            Code::AlreadyExists => write!(out, "ALREADYEXISTS"),
            Code::NonExistent => write!(out, "NONEXISTENT"),
            Code::Cannot => write!(out, "CANNOT"),
            Code::InUse => write!(out, "INUSE"),
            Code::ServerBug => write!(out, "SERVERBUG"),
            Code::AuthenticationFailed => write!(out, "AUTHENTICATIONFAILED"),
            Code::AuthorizationFailed => write!(out, "AUTHORIZATIONFAILED"),
            Code::Unavailable => write!(out, "UNAVAILABLE"),
            Code::PrivacyRequired => write!(out, "PRIVACYREQUIRED"),
            Code::Limit => write!(out, "LIMIT"),
            Code::OverQuota => write!(out, "OVERQUOTA"),
            Code::TooBig => write!(out, "TOOBIG"),
            Code::ClientBug => write!(out, "CLIENTBUG"),
            Code::ExpungeIssued => write!(out, "EXPUNGEISSUED"),
            Code::NoPerm => write!(out, "NOPERM"),
            Code::ContactAdmin => write!(out, "CONTACTADMIN"),
            Code::UnknownCte => write!(out, "UNKNOWN-CTE"),
        };
    }
}

/// A status response, tagged or untagged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The command's tag; `None` for `*`.
    pub tag: Option<String>,
    /// OK, NO, BAD, PREAUTH or BYE.
    pub status: Status,
    /// The bracketed code, if any.
    pub code: Option<Code>,
    /// Human-readable text (one line; CR and LF are replaced).
    pub text: String,
}

impl Response {
    /// A tagged response.
    pub fn tagged(tag: &str, status: Status, text: impl Into<String>) -> Self {
        Response {
            tag: Some(tag.to_owned()),
            status,
            code: None,
            text: text.into(),
        }
    }

    /// An untagged response.
    pub fn untagged(status: Status, text: impl Into<String>) -> Self {
        Response {
            tag: None,
            status,
            code: None,
            text: text.into(),
        }
    }

    /// The same with a response code.
    pub fn with_code(mut self, code: Code) -> Self {
        self.code = Some(code);
        self
    }

    /// The same response with `tag` (for a result made before the tag was known).
    pub fn retag(mut self, tag: &str) -> Self {
        self.tag = Some(tag.to_owned());
        self
    }

    /// Appends the response line, CRLF included.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut line = String::new();
        line.push_str(self.tag.as_deref().unwrap_or("*"));
        line.push(' ');
        line.push_str(self.status.word());
        if let Some(code) = &self.code {
            line.push_str(" [");
            code.write(&mut line);
            line.push(']');
        }
        line.push(' ');
        let text = if self.text.is_empty() {
            "done"
        } else {
            &self.text
        };
        line.extend(
            text.chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c }),
        );
        line.push_str("\r\n");
        out.extend_from_slice(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(r: &Response) -> String {
        let mut out = Vec::new();
        r.write_to(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn responses_are_spelled_as_the_rfc_says() {
        let r = Response::tagged("a1", Status::Ok, "SELECT completed").with_code(Code::ReadWrite);
        assert_eq!(line(&r), "a1 OK [READ-WRITE] SELECT completed\r\n");
        let r = Response::untagged(Status::Ok, "Next UID").with_code(Code::UidNext(42));
        assert_eq!(line(&r), "* OK [UIDNEXT 42] Next UID\r\n");
        let r = Response::tagged("x", Status::No, "two\r\nlines");
        assert_eq!(line(&r), "x NO two  lines\r\n");
        let r = Response::untagged(Status::Ok, "")
            .with_code(Code::PermanentFlags(vec!["\\Seen".into(), "\\*".into()]));
        assert_eq!(line(&r), "* OK [PERMANENTFLAGS (\\Seen \\*)] done\r\n");
    }
}
