//! sink - a fast SMTP receiver that discards what it gets (Postfix's smtp-sink).
//!
//! One tokio task per connection. Each task reads into one reused buffer, handles every
//! complete command and message part in it, and only then writes all the replies in one
//! write, so pipelined clients get one reply packet per batch. It offers PIPELINING,
//! 8BITMIME, SIZE, CHUNKING and ENHANCEDSTATUSCODES, takes messages by DATA (through
//! `smtp_proto::DataReader`, which checks the dot-stuffing) or BDAT, and answers every
//! message `250 2.0.0 Ok: queued as SINK`. Message content passes through one small
//! reused buffer and is thrown away: no disk, no copy of a whole message. There is no
//! command sequence checking; replies are rendered once at start.
//!
//! The clock starts at the first connection and stops when the last message counted
//! was answered: the `--count`th, or the last before SIGINT. A message's latency runs from its MAIL command to its end
//! of data, as seen by the sink. A message refused by the DATA reader (bare newline,
//! overlong line) is an error, so is a connection closed in the middle of a
//! transaction.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use smtp_proto::{BdatReader, Capability, DataError, DataOptions, DataReader, Reply};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::net::Connection;
use crate::progress::Progress;
use crate::report::{Errors, Report};
use crate::stats::Latencies;

/// The longest command line accepted.
const MAX_COMMAND_LINE: usize = 4096;

/// How long the connections get to finish (QUIT) once the count is reached.
const LINGER: Duration = Duration::from_secs(2);

/// `postern-bench sink`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks one; the address is printed on stderr).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: String,
    /// Stop and report after this many messages (default: at SIGINT).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// One line of JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the sink until `--count` messages arrived or SIGINT.
///
/// # Errors
///
/// When the address cannot be bound.
pub async fn run(args: &Args) -> anyhow::Result<Report> {
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listen on {}", args.listen))?;
    let local = listener.local_addr().context("local address")?;
    eprintln!("postern-bench: sink listening on {local}");
    let interrupted = async {
        // Without a SIGINT handler there is nothing to wait for but the count.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    serve(listener, args.count, interrupted).await
}

/// Serves on `listener` until `count` messages arrived or `stop` completes.
///
/// # Errors
///
/// When accepting fails for good.
pub async fn serve(
    listener: TcpListener,
    count: Option<u64>,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<Report> {
    let shared = Arc::new(Shared {
        replies: Replies::new(),
        target: count,
        received: Arc::new(AtomicU64::new(0)),
        bytes: AtomicU64::new(0),
        errors: Errors::default(),
        done: Mutex::new(Done::default()),
        reached: Notify::new(),
        active: AtomicUsize::new(0),
        first: OnceLock::new(),
    });
    let progress = Progress::start("sink", "messages", count, Arc::clone(&shared.received));
    let mut accepting = tokio::spawn(accept(listener, Arc::clone(&shared)));
    tokio::select! {
        () = shared.reached.notified() => {}
        () = stop => {}
        ended = &mut accepting => {
            progress.finish();
            ended??;
            bail!("accepting connections stopped");
        }
    }
    let (latencies, last) = {
        let mut done = shared.done.lock().unwrap_or_else(PoisonError::into_inner);
        (std::mem::take(&mut done.latencies), done.last)
    };
    let elapsed = match (shared.first.get(), last) {
        (Some(first), Some(last)) => last.saturating_duration_since(*first),
        _ => Duration::ZERO,
    };
    let operations = shared.received.load(Ordering::Relaxed);
    let bytes = shared.bytes.load(Ordering::Relaxed);
    accepting.abort();
    let deadline = Instant::now() + LINGER;
    while shared.active.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    progress.finish();
    Ok(Report::new(
        "sink",
        operations,
        elapsed,
        latencies,
        bytes,
        None,
        shared.errors.count(),
    ))
}

/// State shared by the connections.
struct Shared {
    replies: Replies,
    /// `--count`.
    target: Option<u64>,
    /// Messages taken (and answered) so far.
    received: Arc<AtomicU64>,
    /// Their content bytes.
    bytes: AtomicU64,
    errors: Errors,
    /// Connections append to it after each write.
    done: Mutex<Done>,
    /// Signalled once, when `received` reaches `target`.
    reached: Notify,
    /// Connections still open.
    active: AtomicUsize,
    /// When the first connection arrived: the start of the clock.
    first: OnceLock<Instant>,
}

/// The messages taken so far.
#[derive(Default)]
struct Done {
    latencies: Latencies,
    /// When the last one was answered: the end of the clock (an idle sink stopped by
    /// SIGINT would otherwise count its idle time).
    last: Option<Instant>,
}

/// Every reply the sink sends, rendered once.
struct Replies {
    greeting: Vec<u8>,
    ehlo: Vec<u8>,
    helo: Vec<u8>,
    ok: Vec<u8>,
    sender_ok: Vec<u8>,
    recipient_ok: Vec<u8>,
    start_data: Vec<u8>,
    queued: Vec<u8>,
    closing: Vec<u8>,
    no_tls: Vec<u8>,
    unknown: Vec<u8>,
    bad_bdat: Vec<u8>,
    line_too_long: Vec<u8>,
}

impl Replies {
    fn new() -> Replies {
        const NAME: &str = "postern-bench";
        let wire = |reply: Reply| reply.render().into_bytes();
        Replies {
            greeting: wire(Reply::greeting(NAME)),
            ehlo: wire(Reply::ehlo(
                NAME,
                &[
                    Capability::Pipelining,
                    Capability::EightBitMime,
                    Capability::Size(0),
                    Capability::Chunking,
                    Capability::EnhancedStatusCodes,
                ],
            )),
            helo: wire(Reply::helo(NAME)),
            ok: wire(Reply::ok()),
            sender_ok: wire(Reply::sender_ok()),
            recipient_ok: wire(Reply::recipient_ok()),
            start_data: wire(Reply::start_data()),
            queued: wire(Reply::queued("SINK")),
            closing: wire(Reply::closing()),
            no_tls: wire(Reply::tls_not_available()),
            unknown: wire(Reply::unknown_command()),
            bad_bdat: wire(Reply::bad_syntax("BDAT size [LAST]")),
            line_too_long: wire(Reply::line_too_long()),
        }
    }
}

/// Accepts connections and starts a task for each.
async fn accept(listener: TcpListener, shared: Arc<Shared>) -> anyhow::Result<()> {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // Out of descriptors and the like: count it, breathe, go on.
                shared.errors.record(format!("sink: accept: {e}"));
                if shared.errors.exhausted() {
                    return Err(e).context("accept");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        shared.first.get_or_init(Instant::now);
        // Replies go out in one write per batch already; Nagle would only delay them.
        let _ = stream.set_nodelay(true);
        shared.active.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(e) = connection(&shared, stream).await {
                shared.errors.record(format!("sink: {e:#}"));
            }
            shared.active.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// What a connection is reading.
enum Mode {
    /// Command lines.
    Command,
    /// A DATA message.
    Data(DataReader),
    /// A BDAT chunk (the reader is in [`Session::bdat`]).
    Chunk,
}

/// One connection's state.
struct Session {
    mode: Mode,
    /// The message being received by BDAT, between its chunks.
    bdat: Option<BdatReader>,
    /// Message content passes through here and is thrown away.
    content: Vec<u8>,
    /// Replies waiting to be written.
    out: Vec<u8>,
    /// When MAIL arrived, for the latency.
    mail_at: Option<Instant>,
    /// Counts since the last publication to [`Shared`].
    latencies: Latencies,
    messages: u64,
    bytes: u64,
}

async fn connection(shared: &Shared, stream: TcpStream) -> anyhow::Result<()> {
    let mut conn = Connection::new(stream, None);
    let mut session = Session {
        mode: Mode::Command,
        bdat: None,
        content: Vec::new(),
        out: Vec::with_capacity(4096),
        mail_at: None,
        latencies: Latencies::new(),
        messages: 0,
        bytes: 0,
    };
    session.out.extend_from_slice(&shared.replies.greeting);
    loop {
        let quit = session.process(shared, &mut conn)?;
        if !session.out.is_empty() {
            conn.send(&session.out).await?;
            session.out.clear();
        }
        // Only after the replies are written: when the count is reached, every
        // counted message has had its 250 sent.
        session.publish(shared);
        if quit {
            conn.shutdown().await;
            return Ok(());
        }
        if !conn.fill_or_eof().await? {
            let idle = matches!(session.mode, Mode::Command)
                && session.bdat.is_none()
                && session.mail_at.is_none()
                && conn.data().is_empty();
            if idle {
                return Ok(());
            }
            bail!("client closed the connection in the middle of a transaction");
        }
    }
}

impl Session {
    /// Handles everything complete in the buffered input; true after QUIT.
    fn process(&mut self, shared: &Shared, conn: &mut Connection) -> anyhow::Result<bool> {
        loop {
            match &mut self.mode {
                Mode::Data(reader) => {
                    if conn.data().is_empty() {
                        return Ok(false);
                    }
                    let progress = reader.feed(conn.data(), &mut self.content);
                    self.content.clear();
                    conn.consume(progress.consumed);
                    let Some(result) = progress.output else {
                        return Ok(false);
                    };
                    self.mode = Mode::Command;
                    self.finish_message(shared, result);
                }
                Mode::Chunk => {
                    let Some(reader) = self.bdat.as_mut() else {
                        self.mode = Mode::Command;
                        continue;
                    };
                    let progress = reader.feed(conn.data(), &mut self.content);
                    self.content.clear();
                    conn.consume(progress.consumed);
                    let Some(end) = progress.output else {
                        return Ok(false);
                    };
                    self.mode = Mode::Command;
                    if end.last {
                        self.bdat = None;
                        self.finish_message(shared, end.result);
                    } else {
                        match end.result {
                            Ok(size) => self
                                .out
                                .extend_from_slice(Reply::chunk_ok(size).render().as_bytes()),
                            Err(e) => self.out.extend_from_slice(e.reply().render().as_bytes()),
                        }
                    }
                }
                Mode::Command => {
                    let Some(end) = conn.line_end() else {
                        if conn.data().len() > MAX_COMMAND_LINE {
                            self.out.extend_from_slice(&shared.replies.line_too_long);
                            bail!("command line longer than {MAX_COMMAND_LINE} bytes");
                        }
                        return Ok(false);
                    };
                    let line = conn.data().get(..end).unwrap_or_default();
                    let quit = self.command(shared, line);
                    conn.consume(end + 1);
                    if quit {
                        return Ok(true);
                    }
                }
            }
        }
    }

    /// Answers one command line (without its LF); true for QUIT.
    fn command(&mut self, shared: &Shared, line: &[u8]) -> bool {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (verb, rest) = match line.iter().position(|&b| b == b' ') {
            Some(at) => (
                line.get(..at).unwrap_or_default(),
                line.get(at + 1..).unwrap_or_default(),
            ),
            None => (line, &[][..]),
        };
        let is = |name: &[u8]| verb.eq_ignore_ascii_case(name);
        let replies = &shared.replies;
        if is(b"MAIL") {
            self.mail_at = Some(Instant::now());
            self.out.extend_from_slice(&replies.sender_ok);
        } else if is(b"RCPT") {
            self.out.extend_from_slice(&replies.recipient_ok);
        } else if is(b"DATA") {
            self.mode = Mode::Data(DataReader::new(DataOptions::default()));
            self.out.extend_from_slice(&replies.start_data);
        } else if is(b"BDAT") {
            match parse_bdat(rest) {
                Some((size, last)) => {
                    let reader = self
                        .bdat
                        .get_or_insert_with(|| BdatReader::new(DataOptions::default(), false));
                    reader.begin_chunk(size, last);
                    self.mode = Mode::Chunk;
                }
                None => self.out.extend_from_slice(&replies.bad_bdat),
            }
        } else if is(b"EHLO") {
            self.out.extend_from_slice(&replies.ehlo);
        } else if is(b"HELO") {
            self.out.extend_from_slice(&replies.helo);
        } else if is(b"RSET") {
            self.bdat = None;
            self.mail_at = None;
            self.out.extend_from_slice(&replies.ok);
        } else if is(b"NOOP") {
            self.out.extend_from_slice(&replies.ok);
        } else if is(b"QUIT") {
            self.out.extend_from_slice(&replies.closing);
            return true;
        } else if is(b"STARTTLS") {
            self.out.extend_from_slice(&replies.no_tls);
        } else {
            self.out.extend_from_slice(&replies.unknown);
        }
        false
    }

    /// The end of a message: answer, count, time it.
    fn finish_message(&mut self, shared: &Shared, result: Result<u64, DataError>) {
        match result {
            Ok(size) => {
                self.out.extend_from_slice(&shared.replies.queued);
                self.messages += 1;
                self.bytes = self.bytes.saturating_add(size);
                if let Some(at) = self.mail_at {
                    self.latencies.record(at.elapsed());
                }
            }
            Err(e) => {
                self.out.extend_from_slice(e.reply().render().as_bytes());
                shared.errors.record(format!("sink: message refused: {e}"));
            }
        }
        self.mail_at = None;
    }

    /// Moves this connection's counts to the shared ones, and signals when the count
    /// is reached.
    fn publish(&mut self, shared: &Shared) {
        if self.messages == 0 {
            return;
        }
        {
            let mut done = shared.done.lock().unwrap_or_else(PoisonError::into_inner);
            done.latencies.append(&mut self.latencies);
            done.last = Some(Instant::now());
        }
        shared.bytes.fetch_add(self.bytes, Ordering::Relaxed);
        let before = shared.received.fetch_add(self.messages, Ordering::Relaxed);
        let after = before + self.messages;
        if let Some(target) = shared.target
            && before < target
            && after >= target
        {
            shared.reached.notify_one();
        }
        self.messages = 0;
        self.bytes = 0;
    }
}

/// `size [LAST]` of a BDAT command.
fn parse_bdat(args: &[u8]) -> Option<(u64, bool)> {
    let text = std::str::from_utf8(args).ok()?;
    let mut words = text.split_ascii_whitespace();
    let size = words.next()?;
    if !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let size = size.parse().ok()?;
    let last = match words.next() {
        None => false,
        Some(word) if word.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return None,
    };
    words.next().is_none().then_some((size, last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[test]
    fn bdat_arguments() {
        for (args, want) in [
            (&b"100"[..], Some((100, false))),
            (b"0 LAST", Some((0, true))),
            (b"7 last", Some((7, true))),
            (b"", None),
            (b"-1", None),
            (b"10 LAST x", None),
            (b"10 FIRST", None),
        ] {
            assert_eq!(
                parse_bdat(args),
                want,
                "{:?}",
                String::from_utf8_lossy(args)
            );
        }
    }

    /// Sends `input` in one write, reads until the server closes (after QUIT).
    async fn transcript(input: &[u8], count: Option<u64>) -> (String, Report) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let sink = tokio::spawn(serve(listener, count, async {
            let _ = stop_rx.await;
        }));
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(input).await.unwrap();
        let mut output = Vec::new();
        client.read_to_end(&mut output).await.unwrap();
        let _ = stop_tx.send(());
        let report = sink.await.unwrap().unwrap();
        (String::from_utf8(output).unwrap(), report)
    }

    #[tokio::test]
    async fn pipelined_data_and_bdat() {
        let input = b"EHLO client.test\r\n\
            MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n\
            Subject: one\r\n\r\n..dot\r\nbody\r\n.\r\n\
            MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n\
            BDAT 5\r\nhelloBDAT 8 LAST\r\n world\r\n\
            NOOP\r\nXYZZY\r\nQUIT\r\n";
        let (output, report) = transcript(input, None).await;
        let codes: Vec<&str> = output
            .lines()
            .filter(|line| line.as_bytes().get(3) == Some(&b' '))
            .map(|line| line.get(..3).unwrap())
            .collect();
        assert_eq!(
            codes,
            [
                "220", "250", "250", "250", "354", "250", "250", "250", "250", "250", "250", "500",
                "221"
            ],
            "{output}"
        );
        assert!(output.contains("250-PIPELINING\r\n"), "{output}");
        assert!(output.contains("250-CHUNKING\r\n"), "{output}");
        assert!(output.contains("queued as SINK"), "{output}");
        assert_eq!(report.operations, 2);
        // "Subject: one\r\n\r\n.dot\r\nbody\r\n" and "hello world\r\n".
        assert_eq!(report.bytes, 28 + 13);
        assert_eq!(report.errors, 0);
    }

    #[tokio::test]
    async fn refused_message_is_an_error() {
        let input = b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n\
            bare\nnewline\r\n.\r\nQUIT\r\n";
        let (output, report) = transcript(input, None).await;
        assert!(output.contains("\r\n550 "), "{output}");
        assert_eq!(report.operations, 0);
        assert_eq!(report.errors, 1);
    }
}
