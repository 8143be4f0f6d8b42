//! `postern queue show ID [--envelope] [--headers] [--body]`: a queued message,
//! like Postfix's postcat.
//!
//! Without options: the envelope, then the message, between postcat's banners:
//!
//! ```text
//! *** ENVELOPE RECORDS deferred/4XKQ2BZ9CLZ3M0A1B2C3 ***
//! message_size: 1841
//! message_arrival_time: Thu Dec  3 16:25:15 2025
//! sender: alice@example.org
//! client: mail.example.org[192.0.2.1]
//! recipient: bob@example.net (deferred: 4.4.1 connect to mx.example.net: Connection refused)
//! recipient: carol@example.org (done)
//! *** MESSAGE CONTENTS deferred/4XKQ2BZ9CLZ3M0A1B2C3 ***
//! Received: ...
//!
//! Hello
//! *** MESSAGE FILE END deferred/4XKQ2BZ9CLZ3M0A1B2C3 ***
//! ```
//!
//! With options, just the parts asked for, without banners (for scripts). Lines
//! end in LF on output (the queue file keeps the CRLFs).

use std::io::{BufRead, BufReader, Read, Write};

use service::exit;
use spool::{DsnRet, Envelope, QueueId, RecipientState};

use super::{QueueDir, local_time};
use crate::{Failure, describe};

/// Which parts of the message to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    envelope: bool,
    headers: bool,
    body: bool,
    /// postcat's `*** ... ***` lines around the parts (the full view only).
    banners: bool,
}

impl Parts {
    /// The parts the options ask for: all, with banners, when none is given.
    pub fn chosen(envelope: bool, headers: bool, body: bool) -> Parts {
        if envelope || headers || body {
            Parts {
                envelope,
                headers,
                body,
                banners: false,
            }
        } else {
            Parts {
                envelope: true,
                headers: true,
                body: true,
                banners: true,
            }
        }
    }
}

/// `postern queue show ID`.
pub fn show(queue: &QueueDir, id: &str, parts: Parts) -> Result<(), Failure> {
    queue.require_privilege("show queued mail")?;
    let id = QueueId::parse(id)
        .map_err(|e| Failure::new(exit::USAGE, format!("{id:?} is not a queue ID: {e}")))?;
    let io = |e: spool::Error| {
        Failure::new(
            exit::IOERR,
            format!("cannot read the queue: {}", describe(&e)),
        )
    };
    let Some(location) = queue.spool.locate(&id).map_err(io)? else {
        return Err(Failure::new(1, format!("{id}: no such message")));
    };
    let file = match queue.spool.open(location, &id) {
        Ok(file) => file,
        Err(e) if e.is_not_found() => {
            return Err(Failure::new(1, format!("{id}: no such message")));
        }
        Err(e) if e.is_damaged() => {
            return Err(Failure::new(
                exit::DATAERR,
                format!("{location}/{id}: {}", describe(&e)),
            ));
        }
        Err(e) => return Err(io(e)),
    };
    let name = format!("{location}/{id}");
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = (|| -> std::io::Result<()> {
        if parts.envelope {
            if parts.banners {
                writeln!(out, "*** ENVELOPE RECORDS {name} ***")?;
            }
            out.write_all(
                render_envelope(
                    file.envelope(),
                    file.states(),
                    file.message_size(),
                    &|secs| local_time(secs, "%a %b %e %H:%M:%S %Y"),
                )
                .as_bytes(),
            )?;
        }
        if parts.headers || parts.body {
            if parts.banners {
                writeln!(out, "*** MESSAGE CONTENTS {name} ***")?;
            }
            write_message(file.message(), &mut out, parts)?;
        }
        if parts.banners {
            writeln!(out, "*** MESSAGE FILE END {name} ***")?;
        }
        out.flush()
    })();
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::new(exit::IOERR, format!("{name}: {e}"))),
    }
}

/// The envelope as `name: value` lines; `time` formats a time in seconds.
pub fn render_envelope(
    envelope: &Envelope,
    states: &[RecipientState],
    size: u64,
    time: &dyn Fn(u64) -> String,
) -> String {
    let arrival = envelope
        .arrival
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let clean = super::list::printable;
    let mut lines = vec![
        format!("message_size: {size}"),
        format!("message_arrival_time: {}", time(arrival)),
        format!(
            "sender: {}",
            if envelope.sender.is_empty() {
                "<>".to_owned()
            } else {
                clean(&envelope.sender)
            }
        ),
    ];
    if let Some(client) = &envelope.client {
        lines.push(format!(
            "client: {}[{}]",
            clean(&client.name),
            clean(&client.addr)
        ));
        if let Some(helo) = &client.helo {
            lines.push(format!("helo: {}", clean(helo)));
        }
        lines.push(format!("protocol: {}", clean(&client.protocol)));
    }
    if let Some(user) = &envelope.auth_user {
        lines.push(format!("sasl_username: {}", clean(user)));
    }
    if let Some(envid) = &envelope.dsn_envid {
        lines.push(format!("dsn_envid: {}", clean(envid)));
    }
    if let Some(ret) = envelope.dsn_ret {
        let ret = match ret {
            DsnRet::Full => "FULL",
            DsnRet::Headers => "HDRS",
        };
        lines.push(format!("dsn_ret: {ret}"));
    }
    if envelope.body_8bit {
        lines.push("body: 8BITMIME".to_owned());
    }
    if envelope.smtputf8 {
        lines.push("smtputf8: yes".to_owned());
    }
    for (recipient, state) in envelope.recipients.iter().zip(states) {
        let state = match state {
            RecipientState::Pending => "pending".to_owned(),
            RecipientState::Deferred(reason) => format!("deferred: {}", clean(reason)),
            RecipientState::Done => "done".to_owned(),
            RecipientState::Failed { status, reason } => {
                format!("failed: {} {}", clean(status), clean(reason))
            }
        };
        lines.push(format!(
            "recipient: {} ({state})",
            clean(&recipient.address)
        ));
        if let Some(orcpt) = &recipient.orcpt {
            lines.push(format!("original_recipient: {}", clean(orcpt)));
        }
        let notify = recipient.notify;
        if notify.is_specified() {
            let flags: Vec<&str> = [
                (notify.never, "NEVER"),
                (notify.success, "SUCCESS"),
                (notify.failure, "FAILURE"),
                (notify.delay, "DELAY"),
            ]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
            lines.push(format!("notify: {}", flags.join(",")));
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Copies the header section and/or the body, as `parts` says, with LF line ends.
/// The body starts after the first empty line.
pub fn write_message(
    message: impl Read,
    out: &mut impl Write,
    parts: Parts,
) -> std::io::Result<()> {
    let mut in_headers = true;
    let mut reader = BufReader::new(message);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let blank = text.is_empty();
        let show = if in_headers {
            // The separating empty line goes with the body when both are shown.
            parts.headers && (!blank || parts.body)
        } else {
            parts.body
        };
        if show {
            out.write_all(text)?;
            out.write_all(b"\n")?;
        }
        if in_headers && blank {
            in_headers = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use spool::{Client, DsnNotify, Recipient};

    use super::*;

    const MESSAGE: &[u8] = b"Subject: hi\r\nTo: b@example.net\r\n\r\nline 1\r\n\r\nline 3\r\n";

    fn shown(parts: Parts) -> String {
        let mut out = Vec::new();
        write_message(MESSAGE, &mut out, parts).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn headers_and_body_apart() {
        assert_eq!(
            shown(Parts::chosen(false, true, false)),
            "Subject: hi\nTo: b@example.net\n"
        );
        assert_eq!(
            shown(Parts::chosen(false, false, true)),
            "line 1\n\nline 3\n"
        );
        assert_eq!(
            shown(Parts::chosen(false, false, false)),
            "Subject: hi\nTo: b@example.net\n\nline 1\n\nline 3\n"
        );
    }

    #[test]
    fn envelope_lines() {
        let envelope = Envelope {
            sender: String::new(),
            recipients: vec![
                Recipient {
                    address: "b@example.net".into(),
                    orcpt: Some("rfc822;b@example.net".into()),
                    notify: DsnNotify {
                        failure: true,
                        delay: true,
                        ..DsnNotify::default()
                    },
                },
                Recipient {
                    address: "c@example.net".into(),
                    orcpt: None,
                    notify: DsnNotify::default(),
                },
            ],
            arrival: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            client: Some(Client {
                name: "unknown".into(),
                addr: "192.0.2.1".into(),
                helo: Some("client.example".into()),
                protocol: "ESMTP".into(),
            }),
            auth_user: None,
            dsn_envid: None,
            dsn_ret: Some(DsnRet::Headers),
            body_8bit: false,
            smtputf8: false,
        };
        let states = [
            RecipientState::Deferred("4.4.1 refused".into()),
            RecipientState::Done,
        ];
        assert_eq!(
            render_envelope(&envelope, &states, 42, &|s| format!("T{s}")),
            "message_size: 42\n\
             message_arrival_time: T1700000000\n\
             sender: <>\n\
             client: unknown[192.0.2.1]\n\
             helo: client.example\n\
             protocol: ESMTP\n\
             dsn_ret: HDRS\n\
             recipient: b@example.net (deferred: 4.4.1 refused)\n\
             original_recipient: rfc822;b@example.net\n\
             notify: FAILURE,DELAY\n\
             recipient: c@example.net (done)\n"
        );
    }
}
