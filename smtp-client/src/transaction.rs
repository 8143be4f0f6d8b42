//! One mail transaction on an open session: MAIL FROM, RCPT TO for each
//! recipient, then DATA (dot-stuffed) or BDAT, with PIPELINING when offered.
//!
//! What the server advertised decides the parameters: SIZE (and a message
//! above its limit bounces before anything is sent), BODY=8BITMIME (without
//! 8BITMIME an 8-bit message is converted to quoted-printable, or bounces when
//! that is impossible), SMTPUTF8 (required by the message: without it, the
//! message bounces, RFC 6531), DSN's RET, ENVID, NOTIFY and ORCPT, and
//! CHUNKING (BDAT). Each recipient gets its own verdict from its RCPT reply;
//! the final reply to the message applies to the accepted ones.

use std::sync::Arc;

use smtp_proto::{Capability, Reply, Stuffer};
use spool::{DsnNotify, DsnRet, QueueFile};

use crate::deliver::read_chunk;
use crate::session::{self, Error, Session};
use crate::settings::Settings;

/// How much of the message is read and sent at a time.
const CHUNK: usize = 128 * 1024;

/// A recipient of the transaction.
#[derive(Debug, Clone)]
pub struct Rcpt {
    /// Its index in the queue file.
    pub index: u32,
    /// The address.
    pub address: String,
    /// `ORCPT`, as `type;address` (decoded).
    pub orcpt: Option<String>,
    /// `NOTIFY`.
    pub notify: DsnNotify,
    /// The last temporary failure (status, text), for the deferral.
    pub last: Option<(String, String)>,
}

/// How one recipient fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted: the server's final reply.
    Sent(String),
    /// Try again (another MX now, or later): status, text.
    Deferred(String, String),
    /// Never: status, text.
    Failed(String, String),
    /// Never, because the server refused: status, text, the server's reply.
    Rejected(String, String, String),
}

/// The message as it is sent: straight from the queue file, or converted.
pub struct Body {
    file: Arc<QueueFile>,
    /// The 7-bit form, once made (`Err` when the message cannot be converted).
    converted: Option<Result<Arc<Vec<u8>>, String>>,
    /// Whether the message has 8-bit bytes, once looked at.
    eight_bit: Option<bool>,
}

impl Body {
    /// The message of `file`.
    pub fn new(file: Arc<QueueFile>) -> Self {
        Body {
            file,
            converted: None,
            eight_bit: None,
        }
    }

    fn whole(&self) -> std::io::Result<Vec<u8>> {
        read_chunk(
            &self.file,
            0,
            usize::try_from(self.file.message_size()).unwrap_or(usize::MAX),
        )
    }

    /// Whether the message has any 8-bit byte (declared BODY=8BITMIME or not).
    async fn has_8bit(&mut self) -> std::io::Result<bool> {
        if let Some(known) = self.eight_bit {
            return Ok(known);
        }
        let file = self.file.clone();
        let found = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
            let size = file.message_size();
            let mut offset = 0;
            while offset < size {
                let chunk = read_chunk(&file, offset, CHUNK)?;
                if chunk.is_empty() {
                    break;
                }
                if smtp_proto::downgrade::has_8bit(&chunk) {
                    return Ok(true);
                }
                offset += u64::try_from(chunk.len()).unwrap_or(u64::MAX);
            }
            Ok(false)
        })
        .await
        .map_err(std::io::Error::other)??;
        self.eight_bit = Some(found);
        Ok(found)
    }

    /// The quoted-printable form, made once.
    async fn converted(&mut self) -> std::io::Result<Result<Arc<Vec<u8>>, String>> {
        if let Some(done) = &self.converted {
            return Ok(done.clone());
        }
        let message = Body {
            file: self.file.clone(),
            converted: None,
            eight_bit: None,
        };
        let converted = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let whole = message.whole()?;
            Ok(smtp_proto::downgrade::to_7bit(&whole)
                .map(Arc::new)
                .map_err(|e| e.to_string()))
        })
        .await
        .map_err(std::io::Error::other)??;
        self.converted = Some(converted.clone());
        Ok(converted)
    }
}

/// What is sent, decided from the message and the server's EHLO.
enum Content {
    /// The queue file as stored.
    Stored,
    /// A converted copy.
    Converted(Arc<Vec<u8>>),
}

/// Runs the transaction. Returns each recipient's verdict and whether the
/// session can carry another transaction.
pub async fn run(
    session: &mut Session,
    settings: &Settings,
    body: &mut Body,
    rcpts: Vec<Rcpt>,
) -> (Vec<(Rcpt, Verdict)>, bool) {
    let relay = session.target.relay();
    let envelope = body.file.envelope().clone();
    let all = |rcpts: Vec<Rcpt>, verdict: Verdict| -> Vec<(Rcpt, Verdict)> {
        rcpts.into_iter().map(|r| (r, verdict.clone())).collect()
    };

    // A server that greets with our own name is ourselves: the MX records
    // (or the relayhost) send the mail back here.
    if session
        .greeting_name
        .eq_ignore_ascii_case(&settings.myhostname)
    {
        let text = format!(
            "mail for {} loops back to myself (host {relay} greets as {})",
            rcpts
                .first()
                .and_then(|r| r.address.rsplit_once('@'))
                .map_or("", |(_, domain)| domain),
            settings.myhostname
        );
        return (all(rcpts, Verdict::Failed("5.4.6".into(), text)), true);
    }
    // What the server must support, checked before anything is sent.
    if envelope.smtputf8 && !session.offers(&Capability::SmtpUtf8) {
        let text = format!("SMTPUTF8 is required, but was not offered by host {relay}");
        return (all(rcpts, Verdict::Failed("5.6.7".into(), text)), true);
    }
    let mut size = body.file.message_size();
    let mut content = Content::Stored;
    let eight_bit_declared = envelope.body_8bit;
    let mut send_8bit = eight_bit_declared;
    if !session.offers(&Capability::EightBitMime) {
        match body.has_8bit().await {
            Err(e) => {
                let text = format!("cannot read the queue file: {e}");
                return (all(rcpts, Verdict::Deferred("4.3.0".into(), text)), true);
            }
            Ok(false) => send_8bit = false,
            Ok(true) if !settings.mime_conversion => send_8bit = false,
            Ok(true) => match body.converted().await {
                Err(e) => {
                    let text = format!("cannot read the queue file: {e}");
                    return (all(rcpts, Verdict::Deferred("4.3.0".into(), text)), true);
                }
                Ok(Err(why)) => {
                    let text = format!(
                        "message has 8-bit content that cannot be converted to 7-bit ({why}), and host {relay} does not offer 8BITMIME"
                    );
                    return (all(rcpts, Verdict::Failed("5.6.3".into(), text)), true);
                }
                Ok(Ok(converted)) => {
                    size = u64::try_from(converted.len()).unwrap_or(u64::MAX);
                    content = Content::Converted(converted);
                    send_8bit = false;
                }
            },
        }
    }
    if let Some(limit) = session.ehlo.as_ref().and_then(|e| e.size_limit())
        && limit > 0
        && size > limit
    {
        let text = format!("message size {size} exceeds size limit {limit} of server {relay}");
        return (all(rcpts, Verdict::Failed("5.3.4".into(), text)), true);
    }

    let dsn = session.offers(&Capability::Dsn);
    let mut mail = format!("MAIL FROM:<{}>", envelope.sender);
    if session.offers(&Capability::Size(0)) {
        mail.push_str(&format!(" SIZE={size}"));
    }
    if send_8bit {
        mail.push_str(" BODY=8BITMIME");
    }
    if envelope.smtputf8 {
        mail.push_str(" SMTPUTF8");
    }
    if dsn {
        match envelope.dsn_ret {
            Some(DsnRet::Full) => mail.push_str(" RET=FULL"),
            Some(DsnRet::Headers) => mail.push_str(" RET=HDRS"),
            None => {}
        }
        if let Some(envid) = &envelope.dsn_envid {
            mail.push_str(&format!(" ENVID={}", smtp_proto::xtext::encode(envid)));
        }
    }
    let rcpt_lines: Vec<String> = rcpts.iter().map(|r| rcpt_line(r, dsn)).collect();
    let bdat = session.offers(&Capability::Chunking);
    let pipelining = session.offers(&Capability::Pipelining);
    let timeouts = &settings.timeouts;

    // MAIL, RCPTs (and DATA) in one write when the server pipelines.
    let mut outcome = Exchange {
        mail: None,
        rcpts: Vec::new(),
        data: None,
    };
    let result: Result<(), Error> = async {
        if pipelining {
            let mut batch = format!("{mail}\r\n");
            for line in &rcpt_lines {
                batch.push_str(line);
                batch.push_str("\r\n");
            }
            if !bdat {
                batch.push_str("DATA\r\n");
            }
            session.send(batch.as_bytes(), timeouts.mail).await?;
            outcome.mail = Some(
                session
                    .read_reply(timeouts.mail, "sending MAIL FROM")
                    .await?,
            );
            for _ in &rcpt_lines {
                outcome
                    .rcpts
                    .push(session.read_reply(timeouts.rcpt, "sending RCPT TO").await?);
            }
            if !bdat {
                outcome.data = Some(
                    session
                        .read_reply(timeouts.data_init, "sending DATA")
                        .await?,
                );
            }
        } else {
            session
                .send(format!("{mail}\r\n").as_bytes(), timeouts.mail)
                .await?;
            let reply = session
                .read_reply(timeouts.mail, "sending MAIL FROM")
                .await?;
            let ok = reply.code.get() < 400;
            outcome.mail = Some(reply);
            if !ok {
                return Ok(());
            }
            for line in &rcpt_lines {
                session
                    .send(format!("{line}\r\n").as_bytes(), timeouts.rcpt)
                    .await?;
                outcome
                    .rcpts
                    .push(session.read_reply(timeouts.rcpt, "sending RCPT TO").await?);
            }
            let accepted = outcome.rcpts.iter().any(|r| r.code.get() < 400);
            if accepted && !bdat {
                session.send(b"DATA\r\n", timeouts.data_init).await?;
                outcome.data = Some(
                    session
                        .read_reply(timeouts.data_init, "sending DATA")
                        .await?,
                );
            }
        }
        Ok(())
    }
    .await;
    if let Err(error) = result {
        return (lost(rcpts, &error), false);
    }

    let host = session.target.host();
    let said = |reply: &Reply, step: &str| {
        format!(
            "host {host} said: {} (in reply to {step} command)",
            reply.summary()
        )
    };
    let mut verdicts: Vec<(Rcpt, Verdict)> = Vec::new();
    let mut accepted: Vec<Rcpt> = Vec::new();
    let mail_reply = outcome.mail.clone();
    match mail_reply {
        Some(reply) if reply.code.get() >= 400 => {
            let verdict = refusal(&reply, said(&reply, "MAIL FROM"));
            verdicts = all(rcpts, verdict);
        }
        _ => {
            for (r, reply) in rcpts.into_iter().zip(outcome.rcpts.iter()) {
                if reply.code.get() < 400 {
                    accepted.push(r);
                } else {
                    let verdict = refusal(reply, said(reply, "RCPT TO"));
                    verdicts.push((r, verdict));
                }
            }
        }
    }

    // DATA answered 354 although nothing can be sent (pipelining): an empty
    // message ends it, which the server rejects or drops.
    let data_open = outcome
        .data
        .as_ref()
        .is_some_and(|r| r.code == smtp_proto::ReplyCode::START_DATA);
    if accepted.is_empty() {
        if data_open {
            let closed = async {
                session.send(b".\r\n", timeouts.data_done).await?;
                session
                    .read_reply(timeouts.data_done, "ending an empty DATA")
                    .await
            }
            .await;
            return (verdicts, closed.is_ok());
        }
        return (verdicts, true);
    }
    if !bdat && !data_open {
        let Some(reply) = outcome.data else {
            return (verdicts, false);
        };
        let verdict = refusal(&reply, said(&reply, "DATA"));
        verdicts.extend(all(accepted, verdict));
        return (verdicts, true);
    }

    let sent = send_content(session, settings, body, &content, size, bdat).await;
    match sent {
        Ok(reply) if reply.code.get() < 400 => {
            verdicts.extend(all(accepted, Verdict::Sent(reply.summary())));
            (verdicts, true)
        }
        Ok(reply) => {
            let step = if bdat {
                "end of data (BDAT)"
            } else {
                "end of DATA"
            };
            let verdict = refusal(&reply, said(&reply, step));
            verdicts.extend(all(accepted, verdict));
            (verdicts, true)
        }
        Err(error) => {
            verdicts.extend(lost(accepted, &error));
            (verdicts, false)
        }
    }
}

/// The replies collected before the message is sent.
struct Exchange {
    mail: Option<Reply>,
    rcpts: Vec<Reply>,
    data: Option<Reply>,
}

/// Sends the message (after 354, or as one BDAT LAST chunk) and reads the
/// final reply.
async fn send_content(
    session: &mut Session,
    settings: &Settings,
    body: &Body,
    content: &Content,
    size: u64,
    bdat: bool,
) -> Result<Reply, Error> {
    let timeouts = &settings.timeouts;
    if bdat {
        session
            .send(
                format!("BDAT {size} LAST\r\n").as_bytes(),
                timeouts.data_xfer,
            )
            .await?;
    }
    let mut stuffer = Stuffer::new();
    let mut wire = Vec::with_capacity(CHUNK + CHUNK / 8);
    let mut offset = 0u64;
    loop {
        let chunk: Arc<Vec<u8>> = match content {
            Content::Converted(all) => {
                if offset > 0 {
                    Arc::new(Vec::new())
                } else {
                    all.clone()
                }
            }
            Content::Stored => {
                let file = body.file.clone();
                Arc::new(
                    tokio::task::spawn_blocking(move || read_chunk(&file, offset, CHUNK))
                        .await
                        .map_err(|e| Error::Lost(format!("reading the queue file: {e}")))?
                        .map_err(|e| Error::Lost(format!("reading the queue file: {e}")))?,
                )
            }
        };
        if chunk.is_empty() {
            break;
        }
        offset += u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        wire.clear();
        if bdat {
            wire.extend_from_slice(&chunk);
        } else {
            stuffer.push(&chunk, &mut wire);
        }
        session.send(&wire, timeouts.data_xfer).await?;
    }
    if !bdat {
        wire.clear();
        stuffer.finish(&mut wire);
        session.send(&wire, timeouts.data_xfer).await?;
    }
    let reply = session
        .read_reply(
            timeouts.data_done,
            "sending end of data -- message may be sent more than once",
        )
        .await?;
    Ok(reply)
}

fn rcpt_line(r: &Rcpt, dsn: bool) -> String {
    let mut line = format!("RCPT TO:<{}>", r.address);
    if dsn {
        let n = &r.notify;
        if n.never {
            line.push_str(" NOTIFY=NEVER");
        } else if n.is_specified() {
            let mut words = Vec::new();
            if n.success {
                words.push("SUCCESS");
            }
            if n.failure {
                words.push("FAILURE");
            }
            if n.delay {
                words.push("DELAY");
            }
            line.push_str(&format!(" NOTIFY={}", words.join(",")));
        }
        if let Some((kind, address)) = r.orcpt.as_deref().and_then(|o| o.split_once(';')) {
            line.push_str(&format!(
                " ORCPT={kind};{}",
                smtp_proto::xtext::encode(address)
            ));
        }
    }
    line
}

/// The verdict of a 4xx or 5xx reply.
fn refusal(reply: &Reply, text: String) -> Verdict {
    let status = status_of(reply);
    if reply.code.get() >= 500 {
        Verdict::Rejected(status, text, reply.summary())
    } else {
        Verdict::Deferred(status, text)
    }
}

/// The reply's enhanced status, or one made from its code.
pub fn status_of(reply: &Reply) -> String {
    match reply.status {
        Some(status) => status.to_string(),
        None => format!("{}.0.0", reply.code.get() / 100),
    }
}

/// Every recipient deferred because the session broke.
fn lost(rcpts: Vec<Rcpt>, error: &Error) -> Vec<(Rcpt, Verdict)> {
    let text = match error {
        session::Error::Lost(text) => text.clone(),
        session::Error::Rejected { reply, step } => {
            format!("{} (in reply to {step} command)", reply.summary())
        }
        session::Error::Refused { text, .. } => text.clone(),
    };
    rcpts
        .into_iter()
        .map(|r| (r, Verdict::Deferred("4.4.2".into(), text.clone())))
        .collect()
}
