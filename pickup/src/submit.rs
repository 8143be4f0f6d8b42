//! One local submission, from whichever way it came: checked against the
//! policy, completed as a submission server would, and queued.

use std::io::Write;
use std::time::SystemTime;

use accounts::SubmitPolicy;
use ipc::pickup::Submission;
use nix::unistd::{Uid, User};
use service::exit;
use spool::{DsnNotify, Envelope, QueueId, Recipient, Spool};

/// A submission refused: the sysexits code and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `sendmail`'s exit status.
    pub exit: u8,
    /// What to tell the user.
    pub text: String,
}

impl Refusal {
    fn new(exit: u8, text: impl Into<String>) -> Self {
        Refusal {
            exit,
            text: text.into(),
        }
    }
}

/// Who submitted: from the kernel, never from the request.
#[derive(Debug, Clone)]
pub struct Submitter {
    /// The user id.
    pub uid: u32,
    /// Its login name (`#UID` when the system does not know it).
    pub login: String,
    /// The full name from the password database.
    pub gecos: String,
}

impl Submitter {
    /// Looks `uid` up in the password database.
    pub fn from_uid(uid: u32) -> Self {
        match User::from_uid(Uid::from_raw(uid)) {
            Ok(Some(user)) => Submitter {
                uid,
                login: user.name,
                gecos: user
                    .gecos
                    .to_string_lossy()
                    .split(',')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            },
            _ => Submitter {
                uid,
                login: format!("#{uid}"),
                gecos: String::new(),
            },
        }
    }
}

/// What the daemon needs to queue a submission.
pub struct Context<'a> {
    pub spool: &'a Spool,
    pub policy: &'a SubmitPolicy,
    pub myhostname: &'a str,
    pub size_limit: u64,
}

/// Checks what can be checked before the message is read: may this user
/// submit, and with this sender?
///
/// # Errors
/// A [`Refusal`] with `EX_NOPERM`.
pub fn check(
    ctx: &Context<'_>,
    who: &Submitter,
    submission: &Submission,
) -> Result<String, Refusal> {
    if !ctx.policy.may_submit(&who.login) {
        return Err(Refusal::new(
            exit::NOPERM,
            format!(
                "user {} is not allowed to submit mail (authorized_submit_users)",
                who.login
            ),
        ));
    }
    let sender = match &submission.sender {
        None => ctx.policy.own_address(&who.login),
        Some(given) => {
            let bare = given.trim().trim_start_matches('<').trim_end_matches('>');
            ctx.policy.qualify(bare)
        }
    };
    if !ctx.policy.may_use_sender(&who.login, &sender) {
        return Err(Refusal::new(
            exit::NOPERM,
            format!(
                "user {} is not allowed to send mail as <{sender}> (local_login_sender_maps)",
                who.login
            ),
        ));
    }
    if !sender.is_empty() && !plausible_address(&sender) {
        return Err(Refusal::new(
            exit::DATAERR,
            format!("bad sender address <{sender}>"),
        ));
    }
    Ok(sender)
}

/// Completes the message and writes the queue file; returns its ID.
///
/// # Errors
/// A [`Refusal`]: no recipients (`EX_USAGE`), a bad recipient
/// (`EX_NOUSER`), too large (`EX_DATAERR`), or the queue cannot be written
/// (`EX_TEMPFAIL`).
pub fn queue(
    ctx: &Context<'_>,
    who: &Submitter,
    submission: &Submission,
    raw: &[u8],
) -> Result<QueueId, Refusal> {
    let sender = check(ctx, who, submission)?;
    if u64::try_from(raw.len()).unwrap_or(u64::MAX) > ctx.size_limit {
        return Err(Refusal::new(
            exit::DATAERR,
            format!(
                "message is larger than {} bytes (message_size_limit)",
                ctx.size_limit
            ),
        ));
    }
    let lines = crlf_lines(raw);
    let header_end = header_end(&lines);
    let (headers, body) = lines.split_at(header_end);
    let fields = unfold(headers);

    let mut recipients: Vec<String> = Vec::new();
    let mut add = |address: &str| -> Result<(), Refusal> {
        let address = ctx.policy.qualify(address.trim());
        if !plausible_address(&address) {
            return Err(Refusal::new(
                exit::NOUSER,
                format!("bad recipient address <{address}>"),
            ));
        }
        if !recipients.iter().any(|r| r.eq_ignore_ascii_case(&address)) {
            recipients.push(address);
        }
        Ok(())
    };
    for address in &submission.recipients {
        add(address)?;
    }
    if submission.extract_recipients {
        for address in header_recipients(headers) {
            add(&address)?;
        }
    }
    if recipients.is_empty() {
        return Err(Refusal::new(
            exit::USAGE,
            if submission.extract_recipients {
                "no recipient addresses found in the command line or the message header"
            } else {
                "no recipients specified"
            },
        ));
    }

    let envelope = Envelope {
        sender: sender.clone(),
        recipients: recipients
            .iter()
            .map(|address| Recipient {
                address: address.clone(),
                orcpt: None,
                notify: DsnNotify::default(),
            })
            .collect(),
        arrival: SystemTime::now(),
        client: None,
        auth_user: None,
        dsn_envid: None,
        dsn_ret: None,
        body_8bit: raw.iter().any(|b| *b >= 0x80),
        smtputf8: recipients.iter().chain([&sender]).any(|a| !a.is_ascii()),
    };
    let tempfail = |e: &dyn std::fmt::Display| {
        Refusal::new(exit::TEMPFAIL, format!("cannot write the queue file: {e}"))
    };
    let mut writer = ctx.spool.create(&envelope).map_err(|e| tempfail(&e))?;
    let id = *writer.id();
    let now = SystemTime::now();
    let date = service::clock::rfc5322(now);
    let mut out: Vec<u8> = Vec::with_capacity(raw.len() + 512);
    out.extend_from_slice(
        format!(
            "Received: by {} (Postern, from userid {})\r\n\tid {id}; {date}\r\n",
            ctx.myhostname, who.uid
        )
        .as_bytes(),
    );
    let has = |name: &str| fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !has("from") {
        let address = if sender.is_empty() {
            ctx.policy.own_address(&who.login)
        } else {
            sender.clone()
        };
        let name = submission
            .full_name
            .clone()
            .unwrap_or_else(|| who.gecos.clone());
        let line = if name.trim().is_empty() {
            format!("From: <{address}>\r\n")
        } else {
            format!("From: {} <{address}>\r\n", quote_phrase(name.trim()))
        };
        out.extend_from_slice(line.as_bytes());
    }
    if !has("date") {
        out.extend_from_slice(format!("Date: {date}\r\n").as_bytes());
    }
    if !has("message-id") {
        out.extend_from_slice(format!("Message-ID: <{id}@{}>\r\n", ctx.myhostname).as_bytes());
    }
    // The original header, without Bcc: (its recipients must not see it).
    let mut in_bcc = false;
    for line in headers {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continuation {
            in_bcc = field_name(line).is_some_and(|n| n.eq_ignore_ascii_case("bcc"));
        }
        if !in_bcc {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    for line in body.iter().skip(usize::from(
        header_end < lines.len() && body.first().is_some_and(|l| l.is_empty()),
    )) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    writer.write_all(&out).map_err(|e| tempfail(&e))?;
    let id = writer.commit().map_err(|e| tempfail(&e))?;
    tracing::info!("{id}: uid={} from=<{sender}>", who.uid);
    maillog::queued(
        &id,
        &sender,
        u64::try_from(out.len()).unwrap_or(u64::MAX),
        recipients.len(),
    );
    Ok(id)
}

/// The message as lines without line ends (LF or CRLF in, a lone CR kept).
fn crlf_lines(raw: &[u8]) -> Vec<&[u8]> {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .collect()
}

/// The index of the line that ends the header: the first empty line, or
/// the first line that is neither a header field nor a continuation.
fn header_end(lines: &[&[u8]]) -> usize {
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            return i;
        }
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if (continuation && i == 0) || (!continuation && field_name(line).is_none()) {
            return i;
        }
    }
    lines.len()
}

/// The name of a header field line, if it is one.
fn field_name(line: &[u8]) -> Option<&str> {
    let colon = line.iter().position(|b| *b == b':')?;
    let name = std::str::from_utf8(line.get(..colon)?).ok()?;
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic())).then_some(name)
}

/// The header fields as (name, unfolded value).
fn unfold(headers: &[&[u8]]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in headers {
        let text = String::from_utf8_lossy(line);
        if text.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(text.trim());
            }
        } else if let Some((name, value)) = text.split_once(':') {
            fields.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    fields
}

/// The addresses of the `To:`, `Cc:` and `Bcc:` fields.
fn header_recipients(headers: &[&[u8]]) -> Vec<String> {
    let mut block = Vec::new();
    for line in headers {
        block.extend_from_slice(line);
        block.extend_from_slice(b"\r\n");
    }
    block.extend_from_slice(b"\r\n");
    let Some(message) = mail_parser::MessageParser::default().parse_headers(&block) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for list in [message.to(), message.cc(), message.bcc()]
        .into_iter()
        .flatten()
    {
        for addr in list.iter() {
            match (addr.address(), addr.name()) {
                (Some(address), _) => found.push(address.to_owned()),
                // A bare local name (`Cc: bob`), qualified later.
                (None, Some(name)) if !name.trim().is_empty() && !name.trim().contains(' ') => {
                    found.push(name.trim().to_owned());
                }
                _ => {}
            }
        }
    }
    found
}

/// Something that can be an SMTP mailbox: no spaces, controls or angle
/// brackets, one `@` with text on both sides.
fn plausible_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && address.len() <= 320
        && !address
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';'))
}

/// A display name as a phrase, quoted unless it is plain words.
fn quote_phrase(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || "!#$%&'*+-/=?^_`{|}~".contains(c));
    if plain {
        name.to_owned()
    } else {
        let escaped: String = name
            .chars()
            .filter(|c| !c.is_control())
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                _ => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_body_are_split_at_the_first_empty_line() {
        let lines = crlf_lines(b"Subject: a\nTo: b@x,\n c@y\n\nbody\n.\n");
        assert_eq!(header_end(&lines), 3);
        let fields = unfold(&lines[..3]);
        assert_eq!(fields[1], ("To".to_owned(), "b@x, c@y".to_owned()));
        let lines = crlf_lines(b"no header here\nSubject: x\n");
        assert_eq!(header_end(&lines), 0);
    }

    #[test]
    fn recipients_come_from_to_cc_and_bcc() {
        let lines = crlf_lines(
            b"To: Bob <bob@example.org>, \"Smith, J\" <j@example.org>\nCc: team: a@x.test, b@x.test;\nBcc: hidden@example.org, carol\nSubject: s\n\n",
        );
        let end = header_end(&lines);
        let got = header_recipients(&lines[..end]);
        assert_eq!(
            got,
            [
                "bob@example.org",
                "j@example.org",
                "a@x.test",
                "b@x.test",
                "hidden@example.org",
                "carol"
            ]
        );
    }

    #[test]
    fn addresses_and_phrases() {
        assert!(plausible_address("a@b"));
        assert!(!plausible_address("a b@c"));
        assert!(!plausible_address("@c"));
        assert!(!plausible_address("a@"));
        assert!(!plausible_address("a<b>@c"));
        assert_eq!(quote_phrase("Alice Smith"), "Alice Smith");
        assert_eq!(quote_phrase("Smith, \"J\""), "\"Smith, \\\"J\\\"\"");
    }
}
