//! render - writing a [`Report`] as an RFC 3464 `multipart/report` message.

use std::io::{self, BufWriter, Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use service::clock::rfc5322;
use spool::DsnRet;

use crate::original::{self, Header, Lines};
use crate::report::{Action, InvalidReport, Kind, RecipientReport, Report};
use crate::text::{
    MAX_TEXT, ascii_address, clean_address, clean_host, clean_id_part, clean_text, diagnostic,
    field, is_status, typed_address, typed_orcpt, wrap,
};

/// What the third part carries of the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Returned {
    /// The message, cut at the limit between lines if it is larger.
    Message,
    /// The complete header section, because that is what was asked for.
    Headers,
    /// The header section alone did not fit: as much of it as does.
    HeadersCut,
}

/// render - write `report` as a complete message, CRLF line endings, to `out`.
///
/// `original` is the message the report is about (its bytes as spooled,
/// LF or CRLF line endings); it is read as a stream, never whole. At most
/// `limit` bytes of it are returned (`bounce_size_limit`). How much is
/// returned:
///
/// * `RET=FULL`, or no `RET` and a [`Kind::Failure`] report: the message
///   as `message/rfc822`, cut between lines at the limit;
/// * `RET=HDRS`, or no `RET` and a delay or success report: the header
///   section as `text/rfc822-headers`;
/// * whatever was asked, when the header section alone exceeds the limit:
///   as many whole header lines as fit, as `text/rfc822-headers`.
///
/// For an SMTPUTF8 original the types are `message/global` and
/// `message/global-headers` (RFC 6532) instead.
///
/// # Errors
///
/// Reading `original` or writing `out` fails; or the report is invalid
/// (kind `InvalidInput`, wrapping an [`InvalidReport`]): it has no
/// recipients, or it would go to the null sender.
pub fn render(
    report: &Report<'_>,
    original: &mut dyn Read,
    limit: u64,
    out: &mut dyn Write,
) -> io::Result<()> {
    check(report)?;
    let boundary = boundary(report);
    let mut lines = Lines::new(original);
    let header = original::read_header(&mut lines, limit, &boundary)?;
    let returned = if !header.complete {
        Returned::HeadersCut
    } else if returns_message(report) {
        Returned::Message
    } else {
        Returned::Headers
    };

    let mut out = BufWriter::new(out);
    out.write_all(top_header(report, &header, &boundary).as_bytes())?;
    out.write_all(b"\r\nThis is a delivery status report in MIME format (RFC 3464).\r\n")?;

    out.write_all(format!("\r\n--{boundary}\r\n").as_bytes())?;
    out.write_all(b"Content-Type: text/plain; charset=us-ascii\r\n\r\n")?;
    for line in notification(report, returned, limit) {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\r\n")?;
    }

    out.write_all(format!("\r\n--{boundary}\r\n").as_bytes())?;
    out.write_all(b"Content-Type: message/delivery-status\r\n\r\n")?;
    out.write_all(delivery_status(report).as_bytes())?;

    out.write_all(format!("\r\n--{boundary}\r\n").as_bytes())?;
    let global = report.envelope.smtputf8;
    let content_type = match (returned, global) {
        (Returned::Message, false) => "message/rfc822",
        (Returned::Message, true) => "message/global",
        (Returned::Headers | Returned::HeadersCut, false) => "text/rfc822-headers",
        (Returned::Headers | Returned::HeadersCut, true) => "message/global-headers",
    };
    out.write_all(field("Content-Type", content_type).as_bytes())?;
    if report.needs_8bitmime() {
        out.write_all(b"Content-Transfer-Encoding: 8bit\r\n")?;
    }
    out.write_all(b"\r\n")?;
    out.write_all(&header.bytes)?;
    if returned == Returned::Message && header.separated {
        let remaining = limit.saturating_sub(header.len());
        if remaining >= 2 {
            out.write_all(b"\r\n")?;
            original::copy_body(&mut lines, remaining - 2, &boundary, &mut out)?;
        }
    }
    out.write_all(format!("\r\n--{boundary}--\r\n").as_bytes())?;
    out.flush()
}

/// check - refuse reports RFC 3461 and RFC 3464 do not allow.
fn check(report: &Report<'_>) -> io::Result<()> {
    let queue_id = *report.queue_id;
    let invalid = if report.recipients.is_empty() {
        Some(InvalidReport::NoRecipients { queue_id })
    } else if clean_address(report.addressee()).is_empty() {
        Some(InvalidReport::NullSender { queue_id })
    } else {
        None
    };
    match invalid {
        Some(err) => Err(io::Error::new(io::ErrorKind::InvalidInput, err)),
        None => Ok(()),
    }
}

/// returns_message - whether the sender gets the message back, or only its headers.
fn returns_message(report: &Report<'_>) -> bool {
    match report.envelope.dsn_ret {
        Some(DsnRet::Full) => true,
        Some(DsnRet::Headers) => false,
        // RFC 3461 §4.3 leaves the default to us: a bounce returns the
        // message so the sender can resend it; the other reports only
        // need to identify it.
        None => report.kind == Kind::Failure,
    }
}

/// micros - microseconds since the epoch, for IDs made from the report's time.
fn micros(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

/// boundary - the MIME boundary: kind, queue ID and time of the report.
///
/// The parts we write never have a line starting with `--`; the returned
/// original might (a previous report of ours, or a forgery), so
/// [`original::copy_body`] stops before any line that begins with this
/// boundary. Unique per report, so a returned report of ours never
/// carries the boundary of the report returning it.
fn boundary(report: &Report<'_>) -> String {
    format!(
        "=_{}.{}.{}",
        report.queue_id,
        micros(report.now),
        report.kind.as_str()
    )
}

/// top_header - the report's own header section, without the empty line.
fn top_header(report: &Report<'_>, header: &Header, boundary: &str) -> String {
    let host = clean_id_part(report.reporting_mta);
    let subject = match report.kind {
        Kind::Failure if report.to.is_some() => "Undelivered Mail (copy for postmaster)",
        Kind::Failure => "Undelivered Mail Returned to Sender",
        Kind::Delay => "Delayed Mail (still being retried)",
        Kind::Success => "Successful Mail Delivery Report",
    };
    let mut out = String::new();
    out.push_str(&field(
        "From",
        &format!(
            "Mail Delivery System <{}>",
            clean_address(report.postmaster)
        ),
    ));
    out.push_str(&field(
        "To",
        &format!("<{}>", clean_address(report.addressee())),
    ));
    out.push_str(&field("Subject", subject));
    out.push_str(&field("Date", &rfc5322(report.now)));
    out.push_str(&field(
        "Message-ID",
        &format!(
            "<{}.{}.{}@{host}>",
            report.queue_id,
            report.kind.as_str(),
            micros(report.now)
        ),
    ));
    if let Some(id) = header.message_id() {
        out.push_str(&field("In-Reply-To", &id));
        out.push_str(&field("References", &id));
    }
    out.push_str(&field("Auto-Submitted", "auto-replied"));
    out.push_str(&field("MIME-Version", "1.0"));
    out.push_str(&field(
        "Content-Type",
        &format!("multipart/report; report-type=delivery-status; boundary=\"{boundary}\""),
    ));
    if report.needs_8bitmime() {
        out.push_str(&field("Content-Transfer-Encoding", "8bit"));
    }
    out
}

/// notification - the human-readable first part, one string per line.
fn notification(report: &Report<'_>, returned: Returned, limit: u64) -> Vec<String> {
    let mut lines = wrap(
        &format!(
            "This is a delivery status report from the mail server at {}.",
            clean_host(report.reporting_mta)
        ),
        "",
    );
    lines.push(String::new());
    if report.to.is_some() {
        lines.extend(wrap(
            &format!(
                "This copy goes to the postmaster, because the sender of the message, <{}>, \
                 cannot be sent reports.",
                ascii_address(&report.envelope.sender)
            ),
            "",
        ));
        lines.push(String::new());
    }
    let intro = match report.kind {
        Kind::Failure => {
            "Your message could not be delivered to the recipients listed below. The errors \
             are permanent, so no further attempts will be made."
        }
        Kind::Delay => {
            "Your message has not been delivered yet to the recipients listed below. This is \
             only a warning: delivery is being retried, so there is no need to send the \
             message again."
        }
        Kind::Success => {
            "Your message has been handled as listed below. You receive this report because \
             delivery notifications were requested when the message was sent."
        }
    };
    lines.extend(wrap(
        &format!(
            "{intro} The message arrived here on {} and has queue ID {}.",
            rfc5322(report.arrival),
            report.queue_id
        ),
        "",
    ));
    for rcpt in &report.recipients {
        lines.push(String::new());
        lines.extend(recipient_text(rcpt));
    }
    lines.push(String::new());
    let returned_text = match returned {
        Returned::Message => format!(
            "Your message follows this report (returned copies are cut short after {limit} \
             bytes)."
        ),
        Returned::Headers => "The header section of your message follows this report.".to_owned(),
        Returned::HeadersCut => format!(
            "Part of the header section of your message follows this report; all of it \
             would exceed the {limit}-byte limit for returned mail."
        ),
    };
    lines.extend(wrap(&returned_text, ""));
    lines
}

/// recipient_text - one recipient's paragraph in the human-readable part.
fn recipient_text(rcpt: &RecipientReport) -> Vec<String> {
    let outcome = match rcpt.action {
        Action::Failed => "failed permanently",
        Action::Delayed => "delayed, still being retried",
        Action::Delivered => "delivered",
        Action::Relayed => "passed on to a mail system that sends no further reports",
        Action::Expanded => "delivered to an alias or list, which may send its own reports",
    };
    let mut lines = vec![format!("<{}>", ascii_address(&rcpt.final_recipient))];
    lines.extend(wrap(
        &format!("Result: {outcome} ({})", status(rcpt)),
        "    ",
    ));
    if let Some(orcpt) = &rcpt.original_recipient {
        lines.extend(wrap(
            &format!("Originally addressed as: {}", typed_orcpt(orcpt)),
            "    ",
        ));
    }
    if let Some(mta) = &rcpt.remote_mta {
        lines.extend(wrap(&format!("Server: {}", clean_host(mta)), "    "));
    }
    if let Some(text) = &rcpt.diagnostic {
        lines.extend(wrap(
            &format!("Reason: {}", clean_text(text, MAX_TEXT)),
            "    ",
        ));
    }
    if let (Action::Delayed, Some(until)) = (rcpt.action, rcpt.will_retry_until) {
        lines.extend(wrap(&format!("Retrying until: {}", rfc5322(until)), "    "));
    }
    lines
}

/// status - the recipient's status code, or its action's default when malformed.
fn status(rcpt: &RecipientReport) -> &str {
    if is_status(&rcpt.status) {
        &rcpt.status
    } else {
        rcpt.action.default_status()
    }
}

/// delivery_status - the `message/delivery-status` body: per-message
/// fields, then one block per recipient, each block ending in CRLF.
fn delivery_status(report: &Report<'_>) -> String {
    let mut out = String::new();
    if let Some(envid) = &report.envelope.dsn_envid {
        out.push_str(&field("Original-Envelope-Id", &clean_text(envid, MAX_TEXT)));
    }
    out.push_str(&field(
        "Reporting-MTA",
        &format!("dns; {}", clean_host(report.reporting_mta)),
    ));
    out.push_str(&field("Arrival-Date", &rfc5322(report.arrival)));
    out.push_str(&field("X-Postern-Queue-ID", report.queue_id.as_str()));
    for rcpt in &report.recipients {
        out.push_str("\r\n");
        out.push_str(&field(
            "Final-Recipient",
            &typed_address(&rcpt.final_recipient),
        ));
        if let Some(orcpt) = &rcpt.original_recipient {
            out.push_str(&field("Original-Recipient", &typed_orcpt(orcpt)));
        }
        out.push_str(&field("Action", rcpt.action.as_str()));
        out.push_str(&field("Status", status(rcpt)));
        if let Some(mta) = &rcpt.remote_mta {
            out.push_str(&field("Remote-MTA", &format!("dns; {}", clean_host(mta))));
        }
        if let Some(text) = &rcpt.diagnostic {
            out.push_str(&field("Diagnostic-Code", &diagnostic(text)));
        }
        if let Some(at) = rcpt.last_attempt {
            out.push_str(&field("Last-Attempt-Date", &rfc5322(at)));
        }
        if let (Action::Delayed, Some(until)) = (rcpt.action, rcpt.will_retry_until) {
            out.push_str(&field("Will-Retry-Until", &rfc5322(until)));
        }
    }
    out
}
