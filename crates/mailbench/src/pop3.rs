//! pop3 - the POP3 download workload.
//!
//! Each of `--sessions` concurrent sessions logs in with USER/PASS, asks STAT, then
//! retrieves every message with RETR, pipelined: 100 RETR commands in one write, then
//! their 100 answers, and so on; finally QUIT. Nothing is deleted, so a run can be
//! repeated on the same maildrop.
//!
//! The clock and the `--tree` sampler start when every session has logged in and
//! answered STAT (see
//! [`crate::start`]: a memory-hard password hash can cost more than the downloads) and
//! stops when the last session has its last message; QUIT is not measured.
//!
//! A RETR's latency runs from the end of the previous answer (or from the write of its
//! batch, for the first of a batch) to the end of its own answer: with pipelining this
//! is the time the server spent producing that message, not a round trip. `bytes` counts
//! the message content as received (dot-stuffed, CRLF line ends), without the status
//! line and the final dot.
//!
//! POP3 servers lock a maildrop for one session at a time, so concurrent sessions need
//! distinct users: `{n}` in `--user` becomes the session number (0-based).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{anyhow, bail};

use crate::net::{Connection, Tls};
use crate::procstat::Sampler;
use crate::progress::Progress;
use crate::report::{Errors, Report};
use crate::start::{StartLine, Ticket};
use crate::stats::Latencies;

/// RETR commands per write.
const BATCH: u32 = 100;

/// Longest status line accepted.
const MAX_LINE: usize = 8192;

/// `postern-bench pop3`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub login: crate::Login,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub sessions: u32,
    #[command(flatten)]
    pub measure: crate::Measure,
}

/// What one session returns.
#[derive(Default)]
struct Tally {
    latencies: Latencies,
    messages: u64,
    bytes: u64,
    /// When the last message arrived.
    finished: Option<Instant>,
}

/// Runs the pop3 workload.
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
    let args = Arc::new(args);
    let tls = Arc::new(tls);
    let errors = Arc::new(Errors::default());
    let done = Arc::new(AtomicU64::new(0));
    let line = StartLine::new(u64::from(args.sessions));
    let tasks: Vec<_> = (0..args.sessions)
        .map(|index| {
            let (args, tls, errors, done) = (
                Arc::clone(&args),
                Arc::clone(&tls),
                Arc::clone(&errors),
                Arc::clone(&done),
            );
            let ticket = line.ticket();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                if let Err(e) = session(
                    &args,
                    index,
                    tls.as_ref().as_ref(),
                    ticket,
                    &errors,
                    &done,
                    &mut tally,
                )
                .await
                {
                    errors.record(format!("{}: session {index}: {e:#}", args.login.server));
                }
                tally
            })
        })
        .collect();
    line.settled().await;
    // Measured from here: the logins are not part of the workload.
    let sampler = Sampler::start_if_any(&args.measure.tree);
    let progress = Progress::start("pop3", "messages", None, Arc::clone(&done));
    let started = Instant::now();
    line.release();
    let sampler = sampler?;
    let mut all = Tally::default();
    for task in tasks {
        match task.await {
            Ok(mut tally) => {
                all.latencies.append(&mut tally.latencies);
                all.messages += tally.messages;
                all.bytes += tally.bytes;
                all.finished = all.finished.max(tally.finished);
            }
            Err(e) => errors.record(format!("session task failed: {e}")),
        }
    }
    progress.finish();
    let elapsed = all
        .finished
        .unwrap_or_else(Instant::now)
        .saturating_duration_since(started);
    let usage = sampler.map(Sampler::finish);
    Ok(Report::new(
        "pop3",
        all.messages,
        elapsed,
        all.latencies,
        all.bytes,
        usage,
        errors.count(),
    ))
}

/// One session; the tally holds what was done even when it fails half-way.
async fn session(
    args: &Args,
    index: u32,
    tls: Option<&Tls>,
    mut ticket: Ticket,
    errors: &Errors,
    done: &AtomicU64,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let mut conn = Connection::connect(&args.login.server, tls).await?;
    expect_ok(&mut conn, "greeting").await?;
    let user = args.login.user.replace("{n}", &index.to_string());
    conn.send(format!("USER {user}\r\n").as_bytes()).await?;
    expect_ok(&mut conn, "USER").await?;
    conn.send(format!("PASS {}\r\n", args.login.pass).as_bytes())
        .await?;
    expect_ok(&mut conn, "PASS").await?;
    conn.send(b"STAT\r\n").await?;
    let stat = expect_ok(&mut conn, "STAT").await?;
    let count: u32 = stat
        .split_ascii_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow!("STAT: unexpected answer {stat:?}"))?;
    ticket.ready().await?;
    let mut commands = Vec::new();
    let mut first = 1u32;
    while first <= count && !errors.exhausted() {
        let last = first.saturating_add(BATCH - 1).min(count);
        commands.clear();
        for n in first..=last {
            commands.extend_from_slice(format!("RETR {n}\r\n").as_bytes());
        }
        conn.send(&commands).await?;
        let mut since = Instant::now();
        for n in first..=last {
            let status = conn.line(MAX_LINE).await?;
            if !status.starts_with("+OK") {
                errors.record(format!("{}: RETR {n}: {status}", args.login.server));
                continue;
            }
            let size = multi_line(&mut conn).await?;
            let now = Instant::now();
            tally.latencies.record(now - since);
            since = now;
            tally.messages += 1;
            tally.bytes += size;
            done.fetch_add(1, Ordering::Relaxed);
        }
        first = last.saturating_add(1);
    }
    tally.finished = Some(Instant::now());
    conn.send(b"QUIT\r\n").await?;
    expect_ok(&mut conn, "QUIT").await?;
    conn.shutdown().await;
    Ok(())
}

/// Reads a status line; `+OK` gives the text after it, anything else is an error.
async fn expect_ok(conn: &mut Connection, what: &str) -> anyhow::Result<String> {
    let line = conn.line(MAX_LINE).await?;
    match line.strip_prefix("+OK") {
        Some(rest) => Ok(rest.trim_start().to_owned()),
        None => bail!("{what}: {line}"),
    }
}

/// Skips a multi-line answer up to and including its `.` line; returns the bytes
/// before that line.
async fn multi_line(conn: &mut Connection) -> anyhow::Result<u64> {
    let mut size = 0u64;
    // Start of the line being looked at, within conn.data().
    let mut line = 0usize;
    loop {
        let data = conn.data();
        let Some(rest) = data.get(line..) else {
            bail!("internal: line start past the buffer");
        };
        match rest.iter().position(|&b| b == b'\n') {
            Some(at) => {
                let text = rest.get(..at).unwrap_or_default();
                if text == b"." || text == b".\r" {
                    size += u64::try_from(line).unwrap_or(u64::MAX);
                    conn.consume(line + at + 1);
                    return Ok(size);
                }
                line += at + 1;
            }
            None => {
                // Whole lines are counted and dropped before reading more.
                size += u64::try_from(line).unwrap_or(u64::MAX);
                conn.consume(line);
                line = 0;
                conn.fill().await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    /// A POP3 server in a few lines: one session with two messages.
    #[tokio::test]
    async fn retrieves_everything() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = listener.local_addr().unwrap().to_string();
        let fake = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut conn = Connection::new(stream, None);
            conn.send(b"+OK ready\r\n").await.unwrap();
            loop {
                let line = conn.line(1000).await.unwrap();
                let reply: &[u8] = match line.as_str() {
                    "USER u0" | "PASS p" => b"+OK\r\n",
                    "STAT" => b"+OK 3 300\r\n",
                    "RETR 1" => b"+OK\r\nSubject: a\r\n\r\n..x\r\n.\r\n",
                    "RETR 2" => b"+OK\r\n.\r\n",
                    "RETR 3" => b"-ERR no such message\r\n",
                    "QUIT" => b"+OK bye\r\n",
                    _ => b"-ERR what\r\n",
                };
                conn.send(reply).await.unwrap();
                if line == "QUIT" {
                    break;
                }
            }
        });
        let args = Args {
            login: crate::Login {
                server,
                user: "u{n}".into(),
                pass: "p".into(),
                tls: false,
            },
            sessions: 1,
            measure: crate::Measure::default(),
        };
        let report = run(args).await.unwrap();
        fake.await.unwrap();
        assert_eq!(report.operations, 2, "{report:?}");
        assert_eq!(report.bytes, 19, "{report:?}");
        assert_eq!(report.errors, 1, "{report:?}");
    }

    #[tokio::test]
    async fn multi_line_across_reads() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = tokio::spawn(async move {
            let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
            for part in [
                &b"line one\r\nline "[..],
                b"two\r\n",
                b".",
                b"\r\n",
                b"+OK next\r\n",
            ] {
                client.write_all(part).await.unwrap();
                client.flush().await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        });
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn = Connection::new(stream, None);
        assert_eq!(multi_line(&mut conn).await.unwrap(), 20);
        assert_eq!(conn.line(100).await.unwrap(), "+OK next");
        writer.await.unwrap();
    }
}
