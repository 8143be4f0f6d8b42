//! imap - IMAP workloads (in the spirit of Dovecot's imaptest, much smaller).
//!
//! `--connections` concurrent connections each run `--iterations` rounds of one
//! workload; a command's latency runs from writing it to reading its tagged OK, and
//! only the workload's own commands are timed and counted. For `fetch-flags`,
//! `envelope`, `search` and `store` the clock and the `--tree` sampler start when
//! every connection has logged in and selected (see [`crate::start`]: a memory-hard password hash can cost more than
//! the workload) and stops when the last connection ends its last iteration; for
//! `select` and `idle` it covers the whole run.
//!
//! - `select`: per iteration a new connection: LOGIN, SELECT INBOX, LOGOUT (all three
//!   timed).
//! - `fetch-flags`: `FETCH 1:* (FLAGS)` per iteration, after an untimed LOGIN and
//!   SELECT INBOX; LOGOUT at the end.
//! - `envelope`: `FETCH 1:* (ENVELOPE)`, likewise.
//! - `search`: `UID SEARCH SUBJECT x` (`--subject`) and `UID SEARCH UNSEEN`.
//! - `store`: `STORE 1:100 +FLAGS (\Seen)` then `-FLAGS`, so the mailbox ends as it
//!   began (the range is cut to the messages the mailbox has).
//! - `idle`: all connections LOGIN, SELECT INBOX and IDLE (at most 64 setting up at
//!   once), are held `--hold` while the sampler watches the server's memory, then DONE
//!   and LOGOUT. With `--tree`, `per_connection_kib` is the peak RSS of the tree minus
//!   its RSS before the first connection, divided by the connections that reached
//!   IDLE. Timed: LOGIN, SELECT, IDLE (to the continuation), DONE, LOGOUT.
//!
//! A NO or BAD is an error and the connection goes on, except for LOGIN and SELECT,
//! after which it stops (a wrong password does not improve with repetition). `bytes` is everything the server sent. Literals in responses
//! are skipped by their announced size.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::sync::Semaphore;

use crate::net::{Connection, Tls};
use crate::procstat::{Sampler, TreeUsage};
use crate::progress::Progress;
use crate::report::{Errors, Report};
use crate::start::{StartLine, Ticket};
use crate::stats::Latencies;

/// Longest response line kept in the buffer (literals are not part of it).
const MAX_LINE: usize = 1 << 20;

/// IDLE connections setting up at the same time.
const IDLE_SETUP: usize = 64;

/// What each connection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// LOGIN, SELECT INBOX, LOGOUT per iteration.
    Select,
    /// FETCH 1:* (FLAGS).
    FetchFlags,
    /// FETCH 1:* (ENVELOPE).
    Envelope,
    /// UID SEARCH SUBJECT and UID SEARCH UNSEEN.
    Search,
    /// STORE 1:100 +FLAGS (\Seen), then -FLAGS.
    Store,
    /// Hold connections in IDLE and measure memory per connection.
    Idle,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Select => "imap-select",
            Workload::FetchFlags => "imap-fetch-flags",
            Workload::Envelope => "imap-envelope",
            Workload::Search => "imap-search",
            Workload::Store => "imap-store",
            Workload::Idle => "imap-idle",
        }
    }
}

/// `postern-bench imap`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub login: crate::Login,
    /// What to do.
    #[arg(long, value_enum)]
    pub workload: Workload,
    /// Concurrent connections.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: u32,
    /// Rounds of the workload per connection.
    #[arg(long, default_value_t = 1)]
    pub iterations: u64,
    /// idle: how long to hold the connections in IDLE.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::parse_duration)]
    pub hold: Duration,
    /// search: the text for UID SEARCH SUBJECT.
    #[arg(long, default_value = "x")]
    pub subject: String,
    #[command(flatten)]
    pub measure: crate::Measure,
}

/// What every connection shares.
struct Ctx {
    args: Args,
    tls: Option<Tls>,
    errors: Errors,
    /// Commands completed (for the progress line).
    done: Arc<AtomicU64>,
}

/// What one connection returns.
#[derive(Default)]
struct Tally {
    latencies: Latencies,
    commands: u64,
    bytes: u64,
}

impl Tally {
    fn add(&mut self, mut other: Tally) {
        self.latencies.append(&mut other.latencies);
        self.commands += other.commands;
        self.bytes += other.bytes;
    }
}

/// Runs an IMAP workload.
///
/// # Errors
///
/// Setup failures (TLS configuration, --tree); protocol errors are counted.
pub async fn run(args: Args) -> anyhow::Result<Report> {
    let tls = if args.login.tls {
        Some(Tls::for_server(&args.login.server)?)
    } else {
        None
    };
    crate::procstat::check(&args.measure.tree)?;
    let workload = args.workload;
    let ctx = Arc::new(Ctx {
        args,
        tls,
        errors: Errors::default(),
        done: Arc::new(AtomicU64::new(0)),
    });
    let tree = &ctx.args.measure.tree;
    let mut idle = None;
    let mut baseline = None;
    let (tally, elapsed, usage) = match workload {
        Workload::Select => {
            let sampler = Sampler::start_if_any(tree)?;
            let (tally, elapsed) = run_select(&ctx).await;
            (tally, elapsed, sampler.map(Sampler::finish))
        }
        Workload::Idle => {
            let sampler = Sampler::start_if_any(tree)?;
            baseline = sampler.as_ref().map(Sampler::baseline_rss);
            let started = Instant::now();
            let (tally, outcome) = run_idle(&ctx, sampler.as_ref()).await;
            idle = Some(outcome);
            (tally, started.elapsed(), sampler.map(Sampler::finish))
        }
        _ => run_rounds(&ctx).await?,
    };
    let mut report = Report::new(
        workload.name(),
        tally.commands,
        elapsed,
        tally.latencies,
        tally.bytes,
        usage,
        ctx.errors.count(),
    );
    if let Some(idle) = idle {
        report
            .notes
            .push(("idle connections".into(), idle.connections.to_string()));
        match (idle.hold_peak, baseline) {
            (Some(peak), Some(baseline)) if idle.connections > 0 => {
                let grown = peak.saturating_sub(baseline) as f64;
                let kib = grown / idle.connections as f64 / 1024.0;
                report.per_connection_kib = Some((kib * 10.0).round() / 10.0);
                report.notes.push((
                    "rss in hold".into(),
                    format!(
                        "{:.1} MiB (before: {:.1} MiB)",
                        peak as f64 / 1_048_576.0,
                        baseline as f64 / 1_048_576.0
                    ),
                ));
            }
            (None, _) | (_, None) => report
                .notes
                .push(("per connection".into(), "needs --tree PID".into())),
            _ => {}
        }
    }
    Ok(report)
}

/// Commands per iteration of a workload.
fn commands_per_iteration(workload: Workload) -> u64 {
    match workload {
        Workload::Select => 3,
        Workload::Search | Workload::Store => 2,
        Workload::FetchFlags | Workload::Envelope => 1,
        Workload::Idle => 5,
    }
}

/// `select`: every connection runs its iterations at once; the clock covers all.
async fn run_select(ctx: &Arc<Ctx>) -> (Tally, Duration) {
    let total = u64::from(ctx.args.connections)
        .saturating_mul(ctx.args.iterations)
        .saturating_mul(commands_per_iteration(ctx.args.workload));
    let progress = Progress::start("imap", "commands", Some(total), Arc::clone(&ctx.done));
    let started = Instant::now();
    let tasks: Vec<_> = (0..ctx.args.connections)
        .map(|index| {
            let ctx = Arc::clone(ctx);
            tokio::spawn(async move {
                let mut tally = Tally::default();
                if let Err(e) = select_rounds(&ctx, index, &mut tally).await {
                    ctx.errors.record(format!(
                        "{}: connection {index}: {e:#}",
                        ctx.args.login.server
                    ));
                }
                (tally, None)
            })
        })
        .collect();
    let (tally, _) = join(ctx, tasks).await;
    progress.finish();
    (tally, started.elapsed())
}

/// fetch-flags, envelope, search, store: the connections log in and select, then the
/// clock (and the `--tree` sampler) runs from the release on the start line to the end
/// of the last iteration.
async fn run_rounds(ctx: &Arc<Ctx>) -> anyhow::Result<(Tally, Duration, Option<TreeUsage>)> {
    let line = StartLine::new(u64::from(ctx.args.connections));
    let tasks: Vec<_> = (0..ctx.args.connections)
        .map(|index| {
            let ctx = Arc::clone(ctx);
            let ticket = line.ticket();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut finished = None;
                if let Err(e) = rounds(&ctx, index, ticket, &mut tally, &mut finished).await {
                    ctx.errors.record(format!(
                        "{}: connection {index}: {e:#}",
                        ctx.args.login.server
                    ));
                }
                (tally, finished)
            })
        })
        .collect();
    line.settled().await;
    let total = line
        .ready()
        .saturating_mul(ctx.args.iterations)
        .saturating_mul(commands_per_iteration(ctx.args.workload));
    let sampler = Sampler::start_if_any(&ctx.args.measure.tree);
    let progress = Progress::start("imap", "commands", Some(total), Arc::clone(&ctx.done));
    let started = Instant::now();
    line.release();
    let sampler = sampler?;
    let (tally, finished) = join(ctx, tasks).await;
    progress.finish();
    let end = finished.unwrap_or_else(Instant::now);
    let usage = sampler.map(Sampler::finish);
    Ok((tally, end.saturating_duration_since(started), usage))
}

/// Collects the connections' tallies and the latest time one finished its workload.
async fn join(
    ctx: &Ctx,
    tasks: Vec<tokio::task::JoinHandle<(Tally, Option<Instant>)>>,
) -> (Tally, Option<Instant>) {
    let mut all = Tally::default();
    let mut last: Option<Instant> = None;
    for task in tasks {
        match task.await {
            Ok((tally, finished)) => {
                all.add(tally);
                last = last.max(finished);
            }
            Err(e) => ctx.errors.record(format!("connection task failed: {e}")),
        }
    }
    (all, last)
}

/// `select`: a whole session per iteration.
async fn select_rounds(ctx: &Ctx, index: u32, tally: &mut Tally) -> anyhow::Result<()> {
    for _ in 0..ctx.args.iterations {
        if ctx.errors.exhausted() {
            break;
        }
        let mut imap = Imap::open(ctx).await?;
        let result = async {
            // A refusal is counted by `timed`; the connection then stops.
            let accepted = imap.timed(ctx, tally, &login(ctx, index), "LOGIN").await?
                && imap.timed(ctx, tally, "SELECT INBOX", "SELECT").await?;
            if accepted {
                imap.timed(ctx, tally, "LOGOUT", "LOGOUT").await?;
            }
            Ok::<_, anyhow::Error>(accepted)
        }
        .await;
        tally.bytes += imap.conn.received();
        imap.conn.shutdown().await;
        if !result? {
            break;
        }
    }
    Ok(())
}

/// The other workloads: one session, the commands repeated; `finished` is set at the
/// end of the last iteration (LOGOUT is not measured).
async fn rounds(
    ctx: &Ctx,
    index: u32,
    mut ticket: Ticket,
    tally: &mut Tally,
    finished: &mut Option<Instant>,
) -> anyhow::Result<()> {
    let mut imap = Imap::open(ctx).await?;
    let result = async {
        imap.setup(ctx, index).await?;
        let commands: Vec<String> = match ctx.args.workload {
            Workload::FetchFlags => vec!["FETCH 1:* (FLAGS)".into()],
            Workload::Envelope => vec!["FETCH 1:* (ENVELOPE)".into()],
            Workload::Search => vec![
                format!("UID SEARCH SUBJECT {}", quoted(&ctx.args.subject)),
                "UID SEARCH UNSEEN".into(),
            ],
            Workload::Store => {
                let last = imap.exists.min(100);
                if last == 0 {
                    bail!("INBOX is empty: nothing to STORE");
                }
                vec![
                    format!("STORE 1:{last} +FLAGS (\\Seen)"),
                    format!("STORE 1:{last} -FLAGS (\\Seen)"),
                ]
            }
            Workload::Select | Workload::Idle => Vec::new(),
        };
        ticket.ready().await?;
        for _ in 0..ctx.args.iterations {
            if ctx.errors.exhausted() {
                break;
            }
            for command in &commands {
                imap.timed(ctx, tally, command, command).await?;
            }
        }
        *finished = Some(Instant::now());
        if let Err(text) = imap.command("LOGOUT").await? {
            bail!("LOGOUT: {text}");
        }
        Ok(())
    }
    .await;
    tally.bytes += imap.conn.received();
    imap.conn.shutdown().await;
    result
}

/// What the idle workload found.
struct IdleOutcome {
    /// Connections that reached IDLE.
    connections: u64,
    /// The peak RSS sum of the tree during the hold, with `--tree`.
    hold_peak: Option<u64>,
}

/// `idle`: all connections get into IDLE, are held while the sampler watches, then
/// leave.
async fn run_idle(ctx: &Arc<Ctx>, sampler: Option<&Sampler>) -> (Tally, IdleOutcome) {
    let line = StartLine::new(u64::from(ctx.args.connections));
    let setup = Arc::new(Semaphore::new(IDLE_SETUP));
    let progress = Progress::start(
        "imap idle",
        "connections",
        Some(u64::from(ctx.args.connections)),
        line.ready_counter(),
    );
    let tasks: Vec<_> = (0..ctx.args.connections)
        .map(|index| {
            let ctx = Arc::clone(ctx);
            let setup = Arc::clone(&setup);
            let ticket = line.ticket();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                if let Err(e) = idle_connection(&ctx, index, &setup, ticket, &mut tally).await {
                    ctx.errors.record(format!(
                        "{}: connection {index}: {e:#}",
                        ctx.args.login.server
                    ));
                }
                (tally, None)
            })
        })
        .collect();
    line.settled().await;
    if let Some(sampler) = sampler {
        sampler.open_window();
    }
    tokio::time::sleep(ctx.args.hold).await;
    let hold_peak = match sampler {
        Some(sampler) => {
            // One reading now, in case the hold was shorter than a sampling interval.
            let roots = sampler.roots().to_vec();
            let now = tokio::task::spawn_blocking(move || crate::procstat::rss(&roots))
                .await
                .unwrap_or(0);
            Some(sampler.window_peak().max(now))
        }
        None => None,
    };
    line.release();
    let (tally, _) = join(ctx, tasks).await;
    progress.finish();
    let outcome = IdleOutcome {
        connections: line.ready(),
        hold_peak,
    };
    (tally, outcome)
}

/// One IDLE connection: set up, report ready in IDLE, wait for the release, leave.
async fn idle_connection(
    ctx: &Ctx,
    index: u32,
    setup: &Semaphore,
    mut ticket: Ticket,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let permit = setup.acquire().await?;
    let mut imap = Imap::open(ctx).await?;
    let result = async {
        // A refusal is counted by `timed`; the connection then stops.
        if !imap.timed(ctx, tally, &login(ctx, index), "LOGIN").await?
            || !imap.timed(ctx, tally, "SELECT INBOX", "SELECT").await?
        {
            return Ok(());
        }
        let tag = imap.send_tagged("IDLE").await?;
        let started = Instant::now();
        loop {
            match imap.response(&tag).await? {
                Response::Continuation => break,
                Response::Tagged(Ok(())) => bail!("IDLE ended before it began"),
                Response::Tagged(Err(text)) => bail!("IDLE: {text}"),
                Response::Untagged => {}
            }
        }
        imap.record(ctx, tally, started.elapsed());
        drop(permit);
        ticket.ready().await?;
        let started = Instant::now();
        imap.conn.send(b"DONE\r\n").await?;
        match imap.until_tagged(&tag).await? {
            Ok(()) => imap.record(ctx, tally, started.elapsed()),
            Err(text) => ctx
                .errors
                .record(format!("{}: DONE: {text}", ctx.args.login.server)),
        }
        imap.timed(ctx, tally, "LOGOUT", "LOGOUT").await?;
        Ok(())
    }
    .await;
    tally.bytes += imap.conn.received();
    imap.conn.shutdown().await;
    result
}

/// The LOGIN command for connection `index`.
fn login(ctx: &Ctx, index: u32) -> String {
    let user = ctx.args.login.user.replace("{n}", &index.to_string());
    format!("LOGIN {} {}", quoted(&user), quoted(&ctx.args.login.pass))
}

/// An IMAP quoted string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// What one server response was, as far as the client cares.
#[derive(Debug, PartialEq, Eq)]
enum Response {
    /// `+ ...`.
    Continuation,
    /// The tagged end of the command: OK, or the NO/BAD line.
    Tagged(Result<(), String>),
    /// Anything else (untagged data, other tags).
    Untagged,
}

/// A connected IMAP session.
struct Imap {
    conn: Connection,
    next_tag: u64,
    /// From the last `* N EXISTS`.
    exists: u32,
}

impl Imap {
    /// Connects and reads the greeting.
    async fn open(ctx: &Ctx) -> anyhow::Result<Imap> {
        let mut conn = Connection::connect(&ctx.args.login.server, ctx.tls.as_ref()).await?;
        let greeting = conn.line(MAX_LINE).await?;
        if !(greeting.starts_with("* OK") || greeting.starts_with("* PREAUTH")) {
            bail!("greeting: {greeting}");
        }
        Ok(Imap {
            conn,
            next_tag: 1,
            exists: 0,
        })
    }

    /// LOGIN and SELECT INBOX, untimed.
    async fn setup(&mut self, ctx: &Ctx, index: u32) -> anyhow::Result<()> {
        if let Err(text) = self.command(&login(ctx, index)).await? {
            bail!("LOGIN: {text}");
        }
        if let Err(text) = self.command("SELECT INBOX").await? {
            bail!("SELECT INBOX: {text}");
        }
        Ok(())
    }

    /// Runs `command`, timing it; false (and an error counted) on NO or BAD.
    /// `label` names it in error messages (LOGIN's arguments hold the password).
    async fn timed(
        &mut self,
        ctx: &Ctx,
        tally: &mut Tally,
        command: &str,
        label: &str,
    ) -> anyhow::Result<bool> {
        let started = Instant::now();
        match self.command(command).await? {
            Ok(()) => {
                self.record(ctx, tally, started.elapsed());
                Ok(true)
            }
            Err(text) => {
                ctx.errors
                    .record(format!("{}: {label}: {text}", ctx.args.login.server));
                Ok(false)
            }
        }
    }

    fn record(&self, ctx: &Ctx, tally: &mut Tally, latency: Duration) {
        tally.latencies.record(latency);
        tally.commands += 1;
        ctx.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends `command` with a new tag; returns the tag.
    async fn send_tagged(&mut self, command: &str) -> anyhow::Result<String> {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        self.conn
            .send(format!("{tag} {command}\r\n").as_bytes())
            .await?;
        Ok(tag)
    }

    /// Sends `command` and reads up to its tagged response: `Err(line)` for NO/BAD.
    async fn command(&mut self, command: &str) -> anyhow::Result<Result<(), String>> {
        let tag = self.send_tagged(command).await?;
        self.until_tagged(&tag).await
    }

    async fn until_tagged(&mut self, tag: &str) -> anyhow::Result<Result<(), String>> {
        loop {
            if let Response::Tagged(result) = self.response(tag).await? {
                return Ok(result);
            }
        }
    }

    /// Reads one response: its line and any literals it announces (skipped), and the
    /// lines that continue it after each literal.
    async fn response(&mut self, tag: &str) -> anyhow::Result<Response> {
        let mut kind = None;
        loop {
            let end = loop {
                if let Some(end) = self.conn.line_end() {
                    break end;
                }
                if self.conn.data().len() > MAX_LINE {
                    bail!("response line longer than {MAX_LINE} bytes");
                }
                self.conn.fill().await?;
            };
            let line = self.conn.data().get(..end).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let literal = literal_length(line);
            if kind.is_none() {
                kind = Some(classify(line, tag));
                if let Some(n) = exists(line) {
                    self.exists = n;
                }
            }
            self.conn.consume(end + 1);
            match literal {
                Some(size) => self.skip(size).await?,
                None => return Ok(kind.unwrap_or(Response::Untagged)),
            }
        }
    }

    /// Skips `size` bytes of a literal.
    async fn skip(&mut self, mut size: u64) -> anyhow::Result<()> {
        loop {
            let available = u64::try_from(self.conn.data().len()).unwrap_or(u64::MAX);
            let take = size.min(available);
            self.conn
                .consume(usize::try_from(take).unwrap_or(usize::MAX));
            size -= take;
            if size == 0 {
                return Ok(());
            }
            self.conn.fill().await?;
        }
    }
}

/// What kind of response a first line starts.
fn classify(line: &[u8], tag: &str) -> Response {
    if line.first() == Some(&b'+') {
        return Response::Continuation;
    }
    let Some(rest) = line
        .strip_prefix(tag.as_bytes())
        .and_then(|rest| rest.strip_prefix(b" "))
    else {
        return Response::Untagged;
    };
    let status = rest.split(|&b| b == b' ').next().unwrap_or_default();
    if status.eq_ignore_ascii_case(b"OK") {
        Response::Tagged(Ok(()))
    } else {
        Response::Tagged(Err(String::from_utf8_lossy(line).into_owned()))
    }
}

/// `N` of `* N EXISTS`.
fn exists(line: &[u8]) -> Option<u32> {
    let rest = line.strip_prefix(b"* ")?;
    let mut words = rest.split(|&b| b == b' ');
    let number = words.next()?;
    let word = words.next()?;
    if !word.eq_ignore_ascii_case(b"EXISTS") || words.next().is_some() {
        return None;
    }
    std::str::from_utf8(number).ok()?.parse().ok()
}

/// The size of a literal announced at the end of a line: `{N}`, `{N+}` or `~{N}`.
fn literal_length(line: &[u8]) -> Option<u64> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = inner.get(open + 1..)?;
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        for (line, want) in [
            (&b"* 1 FETCH (ENVELOPE (\"date\" {12}"[..], Some(12)),
            (b"* 1 FETCH (BODY[] {0}", Some(0)),
            (b"a1 LOGIN {5+}", Some(5)),
            (b"* 1 FETCH (BINARY[] ~{7}", Some(7)),
            (b"* 1 FETCH (FLAGS (\\Seen))", None),
            (b"* OK {}", None),
            (b"* OK {x}", None),
            (b"}", None),
        ] {
            assert_eq!(
                literal_length(line),
                want,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn classes_of_lines() {
        assert_eq!(classify(b"+ idling", "a3"), Response::Continuation);
        assert_eq!(classify(b"a3 OK done", "a3"), Response::Tagged(Ok(())));
        assert_eq!(classify(b"a3 ok", "a3"), Response::Tagged(Ok(())));
        assert_eq!(
            classify(b"a3 NO [AUTHENTICATIONFAILED] no", "a3"),
            Response::Tagged(Err("a3 NO [AUTHENTICATIONFAILED] no".into()))
        );
        assert_eq!(classify(b"a31 OK done", "a3"), Response::Untagged);
        assert_eq!(classify(b"* 3 EXISTS", "a3"), Response::Untagged);
        assert_eq!(exists(b"* 3 EXISTS"), Some(3));
        assert_eq!(exists(b"* 3 RECENT"), None);
        assert_eq!(exists(b"* OK [UIDVALIDITY 1] x"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted("alice@example.test"), "\"alice@example.test\"");
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    /// A tiny IMAP server: answers every tagged command OK, with a literal in FETCH.
    async fn fake_server(listener: tokio::net::TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut conn = Connection::new(stream, None);
                conn.send(b"* OK fake ready\r\n").await.unwrap();
                while let Ok(line) = conn.line(10_000).await {
                    if line == "DONE" {
                        conn.send(b"a3 OK IDLE done\r\n").await.unwrap();
                        continue;
                    }
                    let (tag, command) = line.split_once(' ').unwrap();
                    let reply = if command.starts_with("SELECT") {
                        format!("* 5 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n{tag} OK selected\r\n")
                    } else if command.starts_with("FETCH") {
                        format!(
                            "* 1 FETCH (ENVELOPE (NIL {{5}}\r\nab}}\r\n NIL))\r\n{tag} OK done\r\n"
                        )
                    } else if command == "IDLE" {
                        "+ idling\r\n".to_owned()
                    } else if command == "LOGOUT" {
                        format!("* BYE\r\n{tag} OK bye\r\n")
                    } else if command.starts_with("STORE 1:5 ") {
                        format!("{tag} OK stored\r\n")
                    } else if command.starts_with("LOGIN") || command.starts_with("UID") {
                        format!("{tag} OK\r\n")
                    } else {
                        format!("{tag} BAD unexpected {command}\r\n")
                    };
                    conn.send(reply.as_bytes()).await.unwrap();
                }
            });
        }
    }

    async fn against_fake(workload: Workload, iterations: u64) -> Report {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = listener.local_addr().unwrap().to_string();
        let fake = tokio::spawn(fake_server(listener));
        let args = Args {
            login: crate::Login {
                server,
                user: "u".into(),
                pass: "p".into(),
                tls: false,
            },
            workload,
            connections: 2,
            iterations,
            hold: Duration::from_millis(50),
            subject: "x".into(),
            measure: crate::Measure::default(),
        };
        let report = run(args).await.unwrap();
        fake.abort();
        report
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn workloads_against_a_fake_server() {
        for (workload, per_iteration) in [
            (Workload::Select, 3),
            (Workload::Envelope, 1),
            (Workload::Search, 2),
            (Workload::Store, 2),
        ] {
            let report = against_fake(workload, 3).await;
            assert_eq!(report.errors, 0, "{workload:?}: {report:?}");
            assert_eq!(report.operations, 2 * 3 * per_iteration, "{workload:?}");
            assert!(report.bytes > 0);
        }
        let idle = against_fake(Workload::Idle, 1).await;
        assert_eq!(idle.errors, 0, "{idle:?}");
        assert_eq!(idle.operations, 2 * 5, "{idle:?}");
        assert_eq!(idle.workload, "imap-idle");
    }
}
