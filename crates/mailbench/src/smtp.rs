//! smtp - the SMTP load generator (in the spirit of Postfix's smtp-source).
//!
//! `--sessions` connections run concurrently on the runtime, each sending its share of
//! `--messages` (the remainder goes one each to the first sessions) over one
//! connection: EHLO (STARTTLS and EHLO again with `--starttls`), then per message MAIL,
//! RCPT per recipient, DATA, the dot-stuffed message, and finally QUIT. With
//! `--pipelining`, and when the server advertises PIPELINING, MAIL, the RCPTs and DATA
//! go out in one write and their replies are read afterwards; otherwise each command
//! waits for its reply.
//!
//! A message's latency runs from writing MAIL to reading the final 250. A refused
//! command counts an error and the transaction is reset; a broken connection counts an
//! error and the session reconnects for its remaining messages; a failed connect (or
//! greeting, EHLO, STARTTLS) counts an error and ends the session. Everything stops
//! after [`MAX_ERRORS`](crate::report::MAX_ERRORS) errors.
//!
//! Recipients: message `m` with `--recipients R` gets the addresses `j = m*R .. m*R+R-1`,
//! address `j` being `--to` value `j mod (number of --to values)` with `{n}` replaced
//! by `j mod --spread` (with one recipient per message, `j` is the message number).
//!
//! `--wait-maildir DIR --expect N` keeps the clock running after the last message until
//! N more message files are in `new/` or `cur/` directories below DIR: end-to-end
//! delivery time rather than submission time.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use smtp_proto::{Capability, EhloReply, Reply, ReplyCode, ReplyParser, Stuffer};

use crate::message::Template;
use crate::net::{Connection, Tls};
use crate::procstat::Sampler;
use crate::progress::Progress;
use crate::report::{Errors, Report};
use crate::stats::Latencies;

/// `postern-bench smtp`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Server to send to.
    #[arg(long, value_name = "HOST:PORT")]
    pub server: String,
    /// Concurrent SMTP sessions.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub sessions: u32,
    /// Messages in all, shared between the sessions.
    #[arg(long, default_value_t = 5000)]
    pub messages: u64,
    /// Size of each message in bytes (headers included).
    #[arg(long, default_value_t = 2048)]
    pub size: usize,
    /// Recipients per message.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub recipients: u32,
    // clap's help renders `{n}` as a line break, wherever it comes from: say it in words.
    #[arg(
        long,
        value_name = "ADDRESS",
        num_args = 1..,
        required = true,
        help = "Recipient addresses, used round-robin; n in curly braces becomes the recipient number modulo --spread"
    )]
    pub to: Vec<String>,
    #[arg(
        long,
        default_value_t = 1,
        value_parser = clap::value_parser!(u64).range(1..),
        help = "Modulus for n in curly braces in --to addresses"
    )]
    pub spread: u64,
    /// Envelope sender and From: header.
    #[arg(long, default_value = "bench@example.net")]
    pub from: String,
    /// Name sent with EHLO.
    #[arg(long, default_value = "bench.example.net")]
    pub helo: String,
    /// Send MAIL, RCPTs and DATA in one write when the server offers PIPELINING.
    #[arg(long)]
    pub pipelining: bool,
    /// TLS from the start (port 465).
    #[arg(long, conflicts_with = "starttls")]
    pub tls: bool,
    /// STARTTLS after the first EHLO.
    #[arg(long)]
    pub starttls: bool,
    /// After sending, wait until --expect more message files are in new/ or cur/
    /// directories below DIR.
    #[arg(long, value_name = "DIR", requires = "expect")]
    pub wait_maildir: Option<PathBuf>,
    /// Messages files to wait for (see --wait-maildir).
    #[arg(long, value_name = "N", requires = "wait_maildir")]
    pub expect: Option<u64>,
    /// Give up waiting for deliveries after this long (counted from the start).
    #[arg(long, value_name = "DURATION", default_value = "600s", value_parser = crate::parse_duration)]
    pub wait_timeout: Duration,
    #[command(flatten)]
    pub measure: crate::Measure,
}

/// What every session shares.
struct Shared {
    args: Args,
    tls: Option<Tls>,
    template: Template,
    errors: Errors,
    /// Messages accepted so far (for the progress line).
    done: Arc<AtomicU64>,
}

/// What one session returns.
#[derive(Default)]
struct Tally {
    latencies: Latencies,
    messages: u64,
    bytes: u64,
}

/// Runs the smtp workload.
///
/// # Errors
///
/// Setup failures only (TLS configuration, --tree, an unreadable --wait-maildir);
/// protocol errors are counted in the report.
pub async fn run(args: Args) -> anyhow::Result<Report> {
    let tls = if args.tls || args.starttls {
        Some(Tls::for_server(&args.server)?)
    } else {
        None
    };
    let baseline = match &args.wait_maildir {
        Some(dir) => {
            let owned = dir.clone();
            let count = tokio::task::spawn_blocking(move || crate::maildir::count_messages(&owned))
                .await?
                .with_context(|| format!("--wait-maildir {}", dir.display()))?;
            Some(count)
        }
        None => None,
    };
    let sampler = Sampler::start_if_any(&args.measure.tree)?;
    let shared = Arc::new(Shared {
        template: Template::new(&args.from, args.size),
        args,
        tls,
        errors: Errors::default(),
        done: Arc::new(AtomicU64::new(0)),
    });
    let args = &shared.args;
    let progress = Progress::start(
        "smtp",
        "messages",
        Some(args.messages),
        Arc::clone(&shared.done),
    );
    let started = Instant::now();
    let sessions = u64::from(args.sessions);
    let mut tasks = Vec::new();
    let mut first = 0u64;
    for index in 0..sessions {
        let count = args.messages / sessions + u64::from(index < args.messages % sessions);
        tasks.push(tokio::spawn(session(Arc::clone(&shared), first, count)));
        first += count;
    }
    let mut tally = Tally::default();
    for task in tasks {
        match task.await {
            Ok(mut t) => {
                tally.latencies.append(&mut t.latencies);
                tally.messages += t.messages;
                tally.bytes += t.bytes;
            }
            Err(e) => shared.errors.record(format!("session task failed: {e}")),
        }
    }
    progress.finish();
    let submitted = started.elapsed();
    let mut notes = Vec::new();
    if let (Some(dir), Some(expect), Some(baseline)) = (&args.wait_maildir, args.expect, baseline) {
        let delivered = Arc::new(AtomicU64::new(0));
        let progress =
            Progress::start("delivery", "messages", Some(expect), Arc::clone(&delivered));
        let target = baseline.saturating_add(expect);
        let waited = crate::maildir::wait_for(
            dir,
            baseline,
            target,
            started,
            args.wait_timeout,
            &delivered,
        )
        .await;
        progress.finish();
        let (count, reached) =
            waited.with_context(|| format!("--wait-maildir {}", dir.display()))?;
        let arrived = count.saturating_sub(baseline);
        if !reached {
            shared.errors.record(format!(
                "{arrived} of {expect} messages arrived in {} within {:?}",
                dir.display(),
                args.wait_timeout
            ));
        }
        notes.push((
            "submitted in".to_owned(),
            format!("{:.3} s", submitted.as_secs_f64()),
        ));
        notes.push(("delivered".to_owned(), format!("{arrived} of {expect}")));
    }
    let elapsed = started.elapsed();
    let usage = sampler.map(Sampler::finish);
    let mut report = Report::new(
        "smtp",
        tally.messages,
        elapsed,
        tally.latencies,
        tally.bytes,
        usage,
        shared.errors.count(),
    );
    report.notes = notes;
    Ok(report)
}

/// One session: sends messages `first..first + count`, reconnecting after a broken
/// connection, until done or the error budget is spent.
async fn session(shared: Arc<Shared>, first: u64, count: u64) -> Tally {
    let mut tally = Tally::default();
    let mut next = first;
    let end = first + count;
    let mut buffers = Buffers::default();
    while next < end && !shared.errors.exhausted() {
        let mut client = match Client::open(&shared).await {
            Ok(client) => client,
            Err(e) => {
                // No retry: a server that refuses connections would only burn the
                // error budget. Reconnecting after a broken session is still tried once.
                shared
                    .errors
                    .record(format!("{}: {e:#}", shared.args.server));
                break;
            }
        };
        let mut broken = false;
        while next < end && !shared.errors.exhausted() {
            let number = next;
            next += 1;
            match client.send_message(&shared, number, &mut buffers).await {
                Ok(Some(latency)) => {
                    tally.latencies.record(latency);
                    tally.messages += 1;
                    tally.bytes += u64::try_from(buffers.message.len()).unwrap_or(u64::MAX);
                    shared.done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(None) => {}
                Err(e) => {
                    shared
                        .errors
                        .record(format!("{}: message {number}: {e:#}", shared.args.server));
                    broken = true;
                    break;
                }
            }
        }
        if !broken {
            client.quit().await;
        }
    }
    tally
}

/// Buffers reused for every message of a session.
#[derive(Default)]
struct Buffers {
    /// The message as generated.
    message: Vec<u8>,
    /// Its dot-stuffed DATA form.
    wire: Vec<u8>,
    /// Commands to write.
    commands: Vec<u8>,
    /// This message's recipients.
    rcpts: Vec<String>,
}

/// One connected and greeted SMTP client session.
struct Client {
    conn: Connection,
    parser: ReplyParser,
    pipelining: bool,
}

impl Client {
    /// Connects, reads the greeting, says EHLO (and does STARTTLS when asked).
    async fn open(shared: &Shared) -> anyhow::Result<Client> {
        let args = &shared.args;
        let implicit = if args.tls { shared.tls.as_ref() } else { None };
        let conn = Connection::connect(&args.server, implicit).await?;
        let mut client = Client {
            conn,
            parser: ReplyParser::new(),
            pipelining: false,
        };
        let greeting = client.reply().await?;
        if greeting.code != ReplyCode::SERVICE_READY {
            bail!("greeting: {}", greeting.summary());
        }
        let mut ehlo = client.ehlo(&args.helo).await?;
        if args.starttls {
            let tls = shared
                .tls
                .as_ref()
                .ok_or_else(|| anyhow!("no TLS configuration"))?;
            if !ehlo.has(&Capability::StartTls) {
                bail!("server does not offer STARTTLS");
            }
            client.conn.send(b"STARTTLS\r\n").await?;
            let reply = client.reply().await?;
            if reply.code != ReplyCode::SERVICE_READY {
                bail!("STARTTLS: {}", reply.summary());
            }
            client.conn.start_tls(tls).await?;
            ehlo = client.ehlo(&args.helo).await?;
        }
        client.pipelining = args.pipelining && ehlo.has(&Capability::Pipelining);
        Ok(client)
    }

    async fn ehlo(&mut self, name: &str) -> anyhow::Result<EhloReply> {
        self.conn
            .send(format!("EHLO {name}\r\n").as_bytes())
            .await?;
        let reply = self.reply().await?;
        EhloReply::from_reply(&reply).ok_or_else(|| anyhow!("EHLO: {}", reply.summary()))
    }

    /// Reads the next reply.
    async fn reply(&mut self) -> anyhow::Result<Reply> {
        loop {
            let progress = self.parser.parse(self.conn.data()).context("reply")?;
            self.conn.consume(progress.consumed);
            if let Some(reply) = progress.output {
                return Ok(reply);
            }
            self.conn.fill().await?;
        }
    }

    /// Sends message `number`; `Some(latency)` when the server took it, `None` when a
    /// command was refused (counted as an error here), an error when the connection is
    /// no longer usable.
    async fn send_message(
        &mut self,
        shared: &Shared,
        number: u64,
        buffers: &mut Buffers,
    ) -> anyhow::Result<Option<Duration>> {
        let args = &shared.args;
        let per_message = u64::from(args.recipients);
        buffers.rcpts.clear();
        for k in 0..per_message {
            buffers
                .rcpts
                .push(recipient(&args.to, args.spread, number * per_message + k));
        }
        shared
            .template
            .generate(number, &buffers.rcpts, &mut buffers.message);
        buffers.wire.clear();
        let mut stuffer = Stuffer::new();
        stuffer.push(&buffers.message, &mut buffers.wire);
        stuffer.finish(&mut buffers.wire);

        let started = Instant::now();
        let refusal = if self.pipelining {
            self.envelope_pipelined(args, buffers).await?
        } else {
            self.envelope_one_by_one(args, buffers).await?
        };
        match refusal {
            Envelope::Refused(what) => {
                shared
                    .errors
                    .record(format!("{}: message {number}: {what}", args.server));
                Ok(None)
            }
            Envelope::Accepted { partial } => {
                self.conn.send(&buffers.wire).await?;
                let reply = self.reply().await?;
                if !reply.code.is_completion() {
                    shared.errors.record(format!(
                        "{}: message {number}: end of DATA: {}",
                        args.server,
                        reply.summary()
                    ));
                    return Ok(None);
                }
                let latency = started.elapsed();
                if let Some(what) = partial {
                    shared
                        .errors
                        .record(format!("{}: message {number}: {what}", args.server));
                }
                Ok(Some(latency))
            }
        }
    }

    /// MAIL, RCPTs and DATA in one write, then their replies.
    async fn envelope_pipelined(
        &mut self,
        args: &Args,
        buffers: &mut Buffers,
    ) -> anyhow::Result<Envelope> {
        use std::io::Write as _;
        let out = &mut buffers.commands;
        out.clear();
        let _ = write!(out, "MAIL FROM:<{}>\r\n", args.from);
        for rcpt in &buffers.rcpts {
            let _ = write!(out, "RCPT TO:<{rcpt}>\r\n");
        }
        out.extend_from_slice(b"DATA\r\n");
        self.conn.send(out).await?;
        let mut refusal = None;
        let mail = self.reply().await?;
        if !mail.code.is_completion() {
            refusal = Some(format!("MAIL FROM: {}", mail.summary()));
        }
        let mut accepted = 0;
        for rcpt in &buffers.rcpts {
            let reply = self.reply().await?;
            if reply.code.is_completion() {
                accepted += 1;
            } else if refusal.is_none() {
                refusal = Some(format!("RCPT TO:<{rcpt}>: {}", reply.summary()));
            }
        }
        let data = self.reply().await?;
        if data.code != ReplyCode::START_DATA {
            let what = refusal.unwrap_or_else(|| format!("DATA: {}", data.summary()));
            self.reset().await?;
            return Ok(Envelope::Refused(what));
        }
        if mail.code.is_completion() && accepted > 0 {
            return Ok(Envelope::Accepted { partial: refusal });
        }
        // The server said go ahead although nothing was accepted (RFC 2920 allows
        // it): send an empty message, which it must then refuse.
        self.conn.send(b".\r\n").await?;
        let _ = self.reply().await?;
        Ok(Envelope::Refused(
            refusal.unwrap_or_else(|| "no recipient accepted".to_owned()),
        ))
    }

    /// MAIL, each RCPT and DATA, each waiting for its reply.
    async fn envelope_one_by_one(
        &mut self,
        args: &Args,
        buffers: &mut Buffers,
    ) -> anyhow::Result<Envelope> {
        let mail = self
            .command(format!("MAIL FROM:<{}>\r\n", args.from))
            .await?;
        if !mail.code.is_completion() {
            self.reset().await?;
            return Ok(Envelope::Refused(format!("MAIL FROM: {}", mail.summary())));
        }
        let mut refusal = None;
        let mut accepted = 0;
        for rcpt in &buffers.rcpts {
            let reply = self.command(format!("RCPT TO:<{rcpt}>\r\n")).await?;
            if reply.code.is_completion() {
                accepted += 1;
            } else if refusal.is_none() {
                refusal = Some(format!("RCPT TO:<{rcpt}>: {}", reply.summary()));
            }
        }
        if accepted == 0 {
            self.reset().await?;
            return Ok(Envelope::Refused(
                refusal.unwrap_or_else(|| "no recipient accepted".to_owned()),
            ));
        }
        let data = self.command("DATA\r\n".to_owned()).await?;
        if data.code != ReplyCode::START_DATA {
            self.reset().await?;
            return Ok(Envelope::Refused(format!("DATA: {}", data.summary())));
        }
        Ok(Envelope::Accepted { partial: refusal })
    }

    async fn command(&mut self, line: String) -> anyhow::Result<Reply> {
        self.conn.send(line.as_bytes()).await?;
        self.reply().await
    }

    /// RSET after a refused transaction; a refused RSET leaves the session unusable.
    async fn reset(&mut self) -> anyhow::Result<()> {
        let reply = self.command("RSET\r\n".to_owned()).await?;
        if !reply.code.is_completion() {
            bail!("RSET: {}", reply.summary());
        }
        Ok(())
    }

    /// QUIT; the session is over whatever happens.
    async fn quit(mut self) {
        if self.conn.send(b"QUIT\r\n").await.is_ok() {
            let _ = self.reply().await;
        }
        self.conn.shutdown().await;
    }
}

/// How the envelope went.
enum Envelope {
    /// DATA got 354; `partial` describes a refused recipient when others were accepted
    /// (counted as an error, but the message still goes).
    Accepted { partial: Option<String> },
    /// The transaction was refused and reset.
    Refused(String),
}

/// Recipient number `j`: the `--to` value `j mod len`, `{n}` replaced by `j mod spread`.
fn recipient(to: &[String], spread: u64, j: u64) -> String {
    let len = u64::try_from(to.len()).unwrap_or(u64::MAX).max(1);
    let index = usize::try_from(j % len).unwrap_or(0);
    let template = to.get(index).map_or("", String::as_str);
    if template.contains("{n}") {
        template.replace("{n}", &(j % spread.max(1)).to_string())
    } else {
        template.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_round_robin_and_spread() {
        let to = vec!["a@x.test".to_owned(), "u{n}@y.test".to_owned()];
        let got: Vec<String> = (0..6).map(|j| recipient(&to, 2, j)).collect();
        assert_eq!(
            got,
            [
                "a@x.test",
                "u1@y.test",
                "a@x.test",
                "u1@y.test",
                "a@x.test",
                "u1@y.test"
            ]
        );
        let one = vec!["user{n}@example.test".to_owned()];
        let got: Vec<String> = (0..4).map(|j| recipient(&one, 3, j)).collect();
        assert_eq!(
            got,
            [
                "user0@example.test",
                "user1@example.test",
                "user2@example.test",
                "user0@example.test"
            ]
        );
        assert_eq!(recipient(&one, 1, 99), "user0@example.test");
    }

    fn args(server: String, sessions: u32, messages: u64, pipelining: bool) -> Args {
        Args {
            server,
            sessions,
            messages,
            size: 2048,
            recipients: 1,
            to: vec!["user{n}@example.test".to_owned()],
            spread: 5,
            from: "bench@example.net".to_owned(),
            helo: "bench.example.net".to_owned(),
            pipelining,
            tls: false,
            starttls: false,
            wait_maildir: None,
            expect: None,
            wait_timeout: Duration::from_secs(10),
            measure: crate::Measure::default(),
        }
    }

    async fn against_sink(mut args: Args, expected: u64) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        args.server = listener.local_addr().unwrap().to_string();
        let sink = tokio::spawn(crate::sink::serve(
            listener,
            Some(expected),
            std::future::pending(),
        ));
        let sent = run(args).await.unwrap();
        let received = tokio::time::timeout(Duration::from_secs(30), sink)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(sent.errors, 0, "{sent:?}");
        assert_eq!(sent.operations, expected, "{sent:?}");
        assert!(sent.p50_ms.is_some());
        assert_eq!(received.errors, 0, "{received:?}");
        assert_eq!(received.operations, expected, "{received:?}");
        assert_eq!(
            received.bytes, sent.bytes,
            "sink {received:?} smtp {sent:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_sessions_of_twenty_reach_the_sink() {
        against_sink(args(String::new(), 2, 40, true), 40).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_pipelining_and_with_two_recipients() {
        let mut a = args(String::new(), 3, 10, false);
        a.recipients = 2;
        a.size = 20_000;
        against_sink(a, 10).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refused_connection_counts_errors() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap().to_string();
        drop(listener);
        let report = run(args(server, 1, 3, true)).await.unwrap();
        assert_eq!(report.operations, 0);
        assert!(report.errors >= 1);
    }
}
