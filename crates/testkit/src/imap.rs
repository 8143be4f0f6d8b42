//! A blocking IMAP client for tests that read like transcripts:
//! `imap.command("FETCH 1 FLAGS")?.ok()?`.
//!
//! Tags are made automatically (`A0001`, `A0002`, ...). Responses are framed the way
//! RFC 9051 section 4.3 says: a line ending in `{N}` (or `{N+}`, or `~{N}` for
//! BINARY's literal8) continues after N more bytes, so a response is one logical
//! unit however many literals it carries. Literals are sent synchronizing (the
//! client waits for the server's `+`) or, with [`Arg::LiteralPlus`], as LITERAL+
//! (RFC 7888). IDLE has its own helpers: [`ImapClient::idle`], then
//! [`ImapClient::idle_wait`] for an untagged response with a deadline, then
//! [`ImapClient::idle_done`].
//!
//! [`parse_values`] and [`fetch_items`] turn a response into a [`Value`] tree so that
//! tests can compare FETCH data structurally (a quoted string and a literal with the
//! same bytes are the same value).
//!
//! The client speaks plain TCP only; TLS tests use Python's `imaplib` or `curl`, as
//! the POP3 tests do.

use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How long one command may take before the client gives up.
pub const IMAP_TIMEOUT: Duration = Duration::from_secs(60);

/// The server's answer to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The tag the client used.
    pub tag: String,
    /// Every untagged response (`* ...`), in order, as text (lossy UTF-8; literals
    /// inline, as `{N}\r\n` followed by their bytes).
    pub untagged: Vec<String>,
    /// The same untagged responses as bytes, for byte-exact checks.
    pub raw_untagged: Vec<Vec<u8>>,
    /// The tagged status line, tag included.
    pub tagged: String,
}

impl Reply {
    /// The status word of the tagged line: `OK`, `NO` or `BAD`.
    pub fn status(&self) -> &str {
        self.tagged.split(' ').nth(1).unwrap_or("")
    }

    /// True when the tagged line says OK.
    pub fn is_ok(&self) -> bool {
        self.status().eq_ignore_ascii_case("OK")
    }

    /// The response code of the tagged line (`READ-WRITE`, `APPENDUID 1 2`), if any.
    pub fn code(&self) -> Option<String> {
        status_code(&self.tagged)
    }

    /// Fails unless the tagged line says `status` (case-insensitive).
    pub fn expect(self, status: &str) -> anyhow::Result<Reply> {
        if !self.status().eq_ignore_ascii_case(status) {
            bail!("expected {status}, got:\n{}", self.transcript());
        }
        Ok(self)
    }

    /// Fails unless the tagged line says OK.
    pub fn ok(self) -> anyhow::Result<Reply> {
        self.expect("OK")
    }

    /// The untagged responses that start with `prefix` after `* ` (case-insensitive),
    /// e.g. `"LIST"` or `"3 EXISTS"`.
    pub fn untagged_starting(&self, prefix: &str) -> Vec<&str> {
        self.untagged
            .iter()
            .filter(|line| {
                line.strip_prefix("* ")
                    .and_then(|rest| rest.get(..prefix.len()))
                    .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            })
            .map(String::as_str)
            .collect()
    }

    /// The response codes of untagged status responses (`* OK [UIDNEXT 4] ...`).
    pub fn untagged_codes(&self) -> Vec<String> {
        self.untagged
            .iter()
            .filter_map(|line| status_code(line))
            .collect()
    }

    /// The argument of the untagged or tagged response code `name`
    /// (`code_value("UIDNEXT")` is `Some("4")` for `* OK [UIDNEXT 4]`).
    pub fn code_value(&self, name: &str) -> Option<String> {
        self.untagged_codes()
            .into_iter()
            .chain(self.code())
            .find_map(|code| {
                let (word, rest) = code.split_once(' ').unwrap_or((code.as_str(), ""));
                word.eq_ignore_ascii_case(name).then(|| rest.to_owned())
            })
    }

    /// The number N of the last `* N WORD` response (`EXISTS`, `RECENT`).
    pub fn count(&self, word: &str) -> Option<u32> {
        self.untagged.iter().rev().find_map(|line| {
            let mut parts = line.strip_prefix("* ")?.split(' ');
            let n = parts.next()?.parse().ok()?;
            let w = parts.next()?;
            (w.eq_ignore_ascii_case(word) && parts.next().is_none()).then_some(n)
        })
    }

    /// The message numbers of every `* N EXPUNGE`, in order.
    pub fn expunged(&self) -> Vec<u32> {
        self.untagged
            .iter()
            .filter_map(|line| {
                let rest = line.strip_prefix("* ")?;
                let (n, word) = rest.split_once(' ')?;
                word.eq_ignore_ascii_case("EXPUNGE")
                    .then(|| n.parse().ok())
                    .flatten()
            })
            .collect()
    }

    /// Every untagged FETCH response: its message number and its items.
    pub fn fetches(&self) -> Vec<Fetch> {
        self.raw_untagged
            .iter()
            .filter_map(|raw| fetch_items(raw).ok().flatten())
            .collect()
    }

    /// The whole exchange as text, for failure messages.
    pub fn transcript(&self) -> String {
        let mut out = String::new();
        for line in &self.untagged {
            let _ = writeln!(out, "S: {line}");
        }
        let _ = writeln!(out, "S: {}", self.tagged);
        out
    }
}

/// The response code in `[...]` right after the status word of a status response
/// (`TAG OK [CODE] text` or `* NO [CODE] text`).
pub fn status_code(line: &str) -> Option<String> {
    let mut parts = line.splitn(3, ' ');
    let _tag = parts.next()?;
    let status = parts.next()?;
    if !["OK", "NO", "BAD", "BYE", "PREAUTH"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(status))
    {
        return None;
    }
    let rest = parts.next()?.strip_prefix('[')?;
    let end = rest.find(']')?;
    rest.get(..end).map(str::to_owned)
}

/// One argument of a command built with [`ImapClient::command_with`].
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// Text sent as it is (spaces, atoms, quoted strings, parentheses).
    Text(&'a str),
    /// A synchronizing literal `{N}`: the client waits for the server's `+`.
    Literal(&'a [u8]),
    /// A non-synchronizing literal `{N+}` (LITERAL+), sent without waiting.
    LiteralPlus(&'a [u8]),
}

/// What came after a command line that expects a continuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A continuation request `+ text`, with its text.
    Continue(String),
    /// The tagged reply: the command is over.
    Done(Reply),
}

/// A client connection.
pub struct ImapClient {
    stream: TcpStream,
    /// Bytes read from the server but not yet taken as a response.
    buf: Vec<u8>,
    tags: u32,
    greeting: String,
    /// Untagged responses read while a command is in progress (literal
    /// continuations, IDLE), handed out with its reply.
    pending: Vec<Vec<u8>>,
    /// The tag of the IDLE in progress.
    idle_tag: Option<String>,
}

impl ImapClient {
    /// Connects to 127.0.0.1:`port` and reads the greeting (must be `* OK`).
    pub fn connect(port: u16) -> anyhow::Result<Self> {
        let client = Self::connect_raw(port)?;
        if !client.greeting.starts_with("* OK") {
            bail!("unexpected greeting {:?}", client.greeting);
        }
        Ok(client)
    }

    /// Connects to 127.0.0.1:`port` and reads the greeting, whatever it is.
    pub fn connect_raw(port: u16) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .with_context(|| format!("connect to IMAP on 127.0.0.1:{port}"))?;
        stream.set_nodelay(true)?;
        let mut client = ImapClient {
            stream,
            buf: Vec::new(),
            tags: 0,
            greeting: String::new(),
            pending: Vec::new(),
            idle_tag: None,
        };
        let greeting = client.read_response(Instant::now() + IMAP_TIMEOUT)?;
        client.greeting = String::from_utf8_lossy(&greeting).into_owned();
        Ok(client)
    }

    /// The server's greeting line.
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// The next tag (`A0001`, ...), consumed.
    pub fn next_tag(&mut self) -> String {
        self.tags += 1;
        format!("A{:04}", self.tags)
    }

    /// Writes raw bytes (hostile input, pipelining, IDLE's `DONE`).
    pub fn write_raw(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.stream.write_all(bytes).context("write to server")?;
        self.stream.flush()?;
        Ok(())
    }

    /// Sends `TAG command` and reads until the tagged reply.
    pub fn command(&mut self, command: &str) -> anyhow::Result<Reply> {
        let tag = self.next_tag();
        self.write_raw(format!("{tag} {command}\r\n").as_bytes())?;
        self.finish(&tag)
    }

    /// Sends a command line with a tag of the test's choosing (or none, or a bad one)
    /// and reads until a response whose first word is `expect_tag`.
    pub fn command_tagged(&mut self, line: &str, expect_tag: &str) -> anyhow::Result<Reply> {
        self.write_raw(format!("{line}\r\n").as_bytes())?;
        self.finish(expect_tag)
    }

    /// Sends a command made of text and literals. A synchronizing literal waits for
    /// the server's `+`; when the server answers with the tagged reply instead (a
    /// literal refused), that reply is returned and the rest is not sent.
    pub fn command_with(&mut self, args: &[Arg<'_>]) -> anyhow::Result<Reply> {
        let tag = self.next_tag();
        let mut out = format!("{tag} ").into_bytes();
        for arg in args {
            match arg {
                Arg::Text(text) => out.extend_from_slice(text.as_bytes()),
                Arg::LiteralPlus(bytes) => {
                    out.extend_from_slice(format!("{{{}+}}\r\n", bytes.len()).as_bytes());
                    out.extend_from_slice(bytes);
                }
                Arg::Literal(bytes) => {
                    out.extend_from_slice(format!("{{{}}}\r\n", bytes.len()).as_bytes());
                    self.write_raw(&out)?;
                    out.clear();
                    match self.next_step(&tag)? {
                        Next::Continue(_) => {}
                        Next::Done(reply) => return Ok(reply),
                    }
                    out.extend_from_slice(bytes);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        self.write_raw(&out)?;
        self.finish(&tag)
    }

    /// APPEND with a synchronizing literal: `APPEND mailbox [(flags)] ["date"] {N}`.
    /// `flags` is the inside of the parenthesised list, `date` without quotes.
    pub fn append(
        &mut self,
        mailbox: &str,
        flags: Option<&str>,
        date: Option<&str>,
        message: &[u8],
    ) -> anyhow::Result<Reply> {
        let mut head = format!("APPEND {}", quote(mailbox));
        if let Some(flags) = flags {
            let _ = write!(head, " ({flags})");
        }
        if let Some(date) = date {
            let _ = write!(head, " \"{date}\"");
        }
        head.push(' ');
        self.command_with(&[Arg::Text(&head), Arg::Literal(message)])
    }

    /// Sends `TAG command` for a command that continues with `+` (AUTHENTICATE,
    /// IDLE) and returns the tag; read on with [`ImapClient::next_step`].
    pub fn start(&mut self, command: &str) -> anyhow::Result<String> {
        let tag = self.next_tag();
        self.write_raw(format!("{tag} {command}\r\n").as_bytes())?;
        Ok(tag)
    }

    /// Reads until a continuation request or the tagged reply for `tag`. Untagged
    /// responses read on the way are kept and returned with the reply.
    pub fn next_step(&mut self, tag: &str) -> anyhow::Result<Next> {
        let deadline = Instant::now() + IMAP_TIMEOUT;
        loop {
            let raw = self.read_response(deadline)?;
            if raw.starts_with(b"+") {
                let text = String::from_utf8_lossy(raw.get(1..).unwrap_or_default());
                return Ok(Next::Continue(text.trim_start().to_owned()));
            }
            if let Some(reply) = self.take_if_tagged(tag, raw) {
                return Ok(Next::Done(reply));
            }
        }
    }

    /// Reads until the tagged reply for `tag`; a continuation request is an error.
    pub fn finish(&mut self, tag: &str) -> anyhow::Result<Reply> {
        match self.next_step(tag)? {
            Next::Done(reply) => Ok(reply),
            Next::Continue(text) => {
                bail!("unexpected continuation request `+ {text}` while waiting for {tag}")
            }
        }
    }

    /// Sends one line (CRLF added), e.g. a SASL response.
    pub fn write_line(&mut self, line: &str) -> anyhow::Result<()> {
        self.write_raw(format!("{line}\r\n").as_bytes())
    }

    /// If `raw` is the tagged line for `tag`, the reply with every untagged response
    /// kept so far; otherwise `raw` is kept as untagged.
    fn take_if_tagged(&mut self, tag: &str, raw: Vec<u8>) -> Option<Reply> {
        let is_tagged = raw
            .strip_prefix(tag.as_bytes())
            .is_some_and(|rest| rest.first() == Some(&b' ') || rest.is_empty());
        if !is_tagged || raw.starts_with(b"* ") {
            self.pending.push(raw);
            return None;
        }
        let raw_untagged = std::mem::take(&mut self.pending);
        Some(Reply {
            tag: tag.to_owned(),
            untagged: raw_untagged
                .iter()
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .collect(),
            raw_untagged,
            tagged: String::from_utf8_lossy(&raw).into_owned(),
        })
    }

    /// LOGIN with quoted strings; fails unless OK.
    pub fn login(&mut self, user: &str, password: &str) -> anyhow::Result<Reply> {
        self.command(&format!("LOGIN {} {}", quote(user), quote(password)))?
            .ok()
    }

    /// SELECT; fails unless OK.
    pub fn select(&mut self, mailbox: &str) -> anyhow::Result<Reply> {
        self.command(&format!("SELECT {}", quote(mailbox)))?.ok()
    }

    /// LOGOUT: expects `* BYE`, the tagged OK, then the connection closed.
    pub fn logout(mut self) -> anyhow::Result<Reply> {
        let reply = self.command("LOGOUT")?.ok()?;
        if reply.untagged_starting("BYE").is_empty() {
            bail!("LOGOUT without * BYE:\n{}", reply.transcript());
        }
        if !self.is_closed(IMAP_TIMEOUT)? {
            bail!("connection still open after LOGOUT");
        }
        Ok(reply)
    }

    /// Starts IDLE and waits for the server's `+`. Untagged responses the server sends
    /// before it are kept for [`ImapClient::idle_wait`].
    pub fn idle(&mut self) -> anyhow::Result<()> {
        let tag = self.start("IDLE")?;
        match self.next_step(&tag)? {
            Next::Continue(_) => {
                self.idle_tag = Some(tag);
                Ok(())
            }
            Next::Done(reply) => bail!("IDLE refused:\n{}", reply.transcript()),
        }
    }

    /// During IDLE, waits up to `timeout` for an untagged response accepted by
    /// `matches` and returns it. Every response read stays in the reply that
    /// [`ImapClient::idle_done`] returns.
    pub fn idle_wait(
        &mut self,
        timeout: Duration,
        what: &str,
        mut matches: impl FnMut(&str) -> bool,
    ) -> anyhow::Result<String> {
        let tag = self.idle_tag.clone().context("no IDLE in progress")?;
        if let Some(seen) = self
            .pending
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .find(|line| matches(line))
        {
            return Ok(seen);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let raw = self.read_response(deadline).with_context(|| {
                format!(
                    "waiting in IDLE for {what}; seen so far: {:?}",
                    self.pending
                        .iter()
                        .map(|r| String::from_utf8_lossy(r).into_owned())
                        .collect::<Vec<_>>()
                )
            })?;
            let line = String::from_utf8_lossy(&raw).into_owned();
            if let Some(reply) = self.take_if_tagged(&tag, raw) {
                bail!("IDLE ended by the server:\n{}", reply.transcript());
            }
            if matches(&line) {
                return Ok(line);
            }
        }
    }

    /// Ends IDLE with `DONE` and returns the reply (with every untagged response
    /// seen during the IDLE).
    pub fn idle_done(&mut self) -> anyhow::Result<Reply> {
        let tag = self.idle_tag.take().context("no IDLE in progress")?;
        self.write_raw(b"DONE\r\n")?;
        self.finish(&tag)
    }

    /// Reads one response (untagged, tagged or continuation), waiting at most
    /// `timeout`; `None` when the server closed the connection first.
    pub fn read_one(&mut self, timeout: Duration) -> anyhow::Result<Option<String>> {
        match self.read_response(Instant::now() + timeout) {
            Ok(raw) => Ok(Some(String::from_utf8_lossy(&raw).into_owned())),
            Err(e) if e.downcast_ref::<Closed>().is_some() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits up to `timeout` for the server to close the connection, discarding
    /// whatever it sends first; false if it is still open then.
    pub fn is_closed(&mut self, timeout: Duration) -> anyhow::Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_response(deadline) {
                Ok(_) => {}
                Err(e) if e.downcast_ref::<Closed>().is_some() => return Ok(true),
                Err(e) if e.downcast_ref::<TimedOut>().is_some() => return Ok(false),
                Err(e) => {
                    // A reset is a close, too.
                    if e.downcast_ref::<std::io::Error>().is_some_and(|io| {
                        matches!(
                            io.kind(),
                            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
                        )
                    }) {
                        return Ok(true);
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Reads one whole response (a line and the literals it announces), without
    /// its final CRLF.
    fn read_response(&mut self, deadline: Instant) -> anyhow::Result<Vec<u8>> {
        loop {
            if let Some(end) = frame(&self.buf)? {
                let rest = self.buf.split_off(end);
                let mut response = std::mem::replace(&mut self.buf, rest);
                response.truncate(end.saturating_sub(2));
                return Ok(response);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(anyhow::Error::new(TimedOut).context(format!(
                    "no whole response from the server in time; partial: {:?}",
                    String::from_utf8_lossy(&self.buf)
                )));
            }
            self.stream.set_read_timeout(Some(deadline - now))?;
            let mut chunk = [0u8; 16384];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(anyhow::Error::new(Closed).context(format!(
                        "connection closed by the server; partial: {:?}",
                        String::from_utf8_lossy(&self.buf)
                    )));
                }
                Ok(n) => self
                    .buf
                    .extend_from_slice(chunk.get(..n).context("read past buffer")?),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The server closed the connection.
#[derive(Debug)]
struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed")
    }
}

impl std::error::Error for Closed {}

/// No whole response arrived before the deadline.
#[derive(Debug)]
struct TimedOut;

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("timed out")
    }
}

impl std::error::Error for TimedOut {}

/// The length of the first whole response in `buf` (its final CRLF included), or
/// `None` when more bytes are needed. A bare LF ending a line is an error: IMAP
/// lines end with CRLF.
fn frame(buf: &[u8]) -> anyhow::Result<Option<usize>> {
    let mut pos = 0;
    loop {
        let Some(rest) = buf.get(pos..) else {
            return Ok(None);
        };
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let line_end = pos + lf;
        if lf == 0 || buf.get(line_end - 1) != Some(&b'\r') {
            bail!(
                "server line not ended by CRLF: {:?}",
                String::from_utf8_lossy(buf.get(..=line_end).unwrap_or_default())
            );
        }
        let line = buf.get(pos..line_end - 1).unwrap_or_default();
        match literal_length(line) {
            Some(n) => pos = line_end + 1 + n,
            None => return Ok(Some(line_end + 1)),
        }
    }
}

/// N when `line` ends with a literal announcement `{N}`, `{N+}` or `~{N}`.
fn literal_length(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = inner.get(open + 1..)?;
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// `text` as an IMAP quoted string.
pub fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// One value in a server response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// NIL.
    Nil,
    /// An atom or number (`FLAGS`, `\Seen`, `42`, `BODY[1.MIME]<0>`).
    Atom(String),
    /// A quoted string or a literal: the same bytes are the same value.
    Str(Vec<u8>),
    /// A parenthesised list.
    List(Vec<Value>),
}

impl Value {
    /// The string's bytes as text (lossy), for a [`Value::Str`].
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Str(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        }
    }

    /// The string's bytes, for a [`Value::Str`].
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Str(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The atom, for a [`Value::Atom`].
    pub fn as_atom(&self) -> Option<&str> {
        match self {
            Value::Atom(atom) => Some(atom),
            _ => None,
        }
    }

    /// The items, for a [`Value::List`].
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The atom parsed as a number.
    pub fn as_number(&self) -> Option<u64> {
        self.as_atom()?.parse().ok()
    }

    /// The value written back in IMAP syntax, strings always quoted (with `\"` and
    /// `\\` escaped and any other byte as it is), so that equal values print equal.
    pub fn to_imap(&self) -> String {
        let mut out = String::new();
        self.write_imap(&mut out);
        out
    }

    fn write_imap(&self, out: &mut String) {
        match self {
            Value::Nil => out.push_str("NIL"),
            Value::Atom(atom) => out.push_str(atom),
            Value::Str(bytes) => out.push_str(&quote(&String::from_utf8_lossy(bytes))),
            Value::List(items) => {
                out.push('(');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    item.write_imap(out);
                }
                out.push(')');
            }
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_imap())
    }
}

/// Parses a sequence of space-separated values (a whole response, or a part of
/// one): atoms, numbers, NIL, quoted strings, literals (`{N}\r\n` + N bytes, also
/// `~{N}`), parenthesised lists. An atom may carry a bracketed section with spaces
/// and parentheses inside (`BODY[HEADER.FIELDS (FROM TO)]<0>`).
pub fn parse_values(input: &[u8]) -> anyhow::Result<Vec<Value>> {
    let mut parser = Parser { input, pos: 0 };
    let values = parser.sequence(false)?;
    if parser.pos != input.len() {
        bail!(
            "trailing bytes at {}: {:?}",
            parser.pos,
            String::from_utf8_lossy(input)
        );
    }
    Ok(values)
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn sequence(&mut self, in_list: bool) -> anyhow::Result<Vec<Value>> {
        let mut values = Vec::new();
        loop {
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            match self.peek() {
                None if in_list => bail!("unclosed list in {:?}", self.text()),
                None => return Ok(values),
                Some(b')') if in_list => {
                    self.pos += 1;
                    return Ok(values);
                }
                Some(b')') => bail!("unbalanced ) in {:?}", self.text()),
                Some(_) => values.push(self.value()?),
            }
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(self.input).into_owned()
    }

    fn value(&mut self) -> anyhow::Result<Value> {
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                Ok(Value::List(self.sequence(true)?))
            }
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(),
            Some(b'~') if self.input.get(self.pos + 1) == Some(&b'{') => {
                self.pos += 1;
                self.literal()
            }
            _ => self.atom(),
        }
    }

    fn quoted(&mut self) -> anyhow::Result<Value> {
        self.pos += 1;
        let mut bytes = Vec::new();
        loop {
            match self.peek() {
                None => bail!("unterminated quoted string in {:?}", self.text()),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Value::Str(bytes));
                }
                Some(b'\\') => {
                    let escaped = self
                        .input
                        .get(self.pos + 1)
                        .copied()
                        .context("backslash at the end")?;
                    bytes.push(escaped);
                    self.pos += 2;
                }
                Some(b) => {
                    bytes.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    fn literal(&mut self) -> anyhow::Result<Value> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let close = rest
            .iter()
            .position(|&b| b == b'}')
            .with_context(|| format!("unclosed literal length in {:?}", self.text()))?;
        let digits = rest.get(1..close).unwrap_or_default();
        let digits = digits.strip_suffix(b"+").unwrap_or(digits);
        let n: usize = std::str::from_utf8(digits)?
            .parse()
            .with_context(|| format!("bad literal length in {:?}", self.text()))?;
        let start = self.pos + close + 1;
        let start = if self.input.get(start..start + 2) == Some(b"\r\n") {
            start + 2
        } else {
            bail!("literal length not followed by CRLF in {:?}", self.text());
        };
        let bytes = self
            .input
            .get(start..start + n)
            .with_context(|| format!("literal shorter than {n} bytes"))?;
        self.pos = start + n;
        Ok(Value::Str(bytes.to_vec()))
    }

    fn atom(&mut self) -> anyhow::Result<Value> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'(' | b')' | b'\r' | b'\n' | b'"' | b'{' => break,
                b'[' => {
                    // A section: up to the matching ], spaces and lists included.
                    let mut depth = 0usize;
                    while let Some(c) = self.peek() {
                        self.pos += 1;
                        match c {
                            b'[' => depth += 1,
                            b']' => {
                                depth = depth.saturating_sub(1);
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    continue;
                }
                _ => self.pos += 1,
            }
        }
        if self.pos == start {
            bail!(
                "unexpected byte {:?} at {} in {:?}",
                self.peek().map(char::from),
                start,
                self.text()
            );
        }
        let atom = String::from_utf8_lossy(self.input.get(start..self.pos).unwrap_or_default())
            .into_owned();
        if atom.eq_ignore_ascii_case("NIL") {
            return Ok(Value::Nil);
        }
        Ok(Value::Atom(atom))
    }
}

/// One untagged FETCH response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// The message sequence number.
    pub seq: u32,
    /// The data items as (name upper-cased, value), in the server's order.
    pub items: Vec<(String, Value)>,
}

impl Fetch {
    /// The value of item `name` (compared case-insensitively, e.g. `"FLAGS"`,
    /// `"BODY[1.MIME]"`, `"BODY[]<0>"`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        let name = name.to_ascii_uppercase();
        self.items
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
    }

    /// The UID item.
    pub fn uid(&self) -> Option<u32> {
        self.get("UID")?.as_number()?.try_into().ok()
    }

    /// The FLAGS item as a list of atoms.
    pub fn flags(&self) -> Option<Vec<String>> {
        Some(
            self.get("FLAGS")?
                .as_list()?
                .iter()
                .filter_map(|v| v.as_atom().map(str::to_owned))
                .collect(),
        )
    }
}

/// Parses `* N FETCH (name value ...)`; `Ok(None)` for any other response.
pub fn fetch_items(raw: &[u8]) -> anyhow::Result<Option<Fetch>> {
    let Some(rest) = raw.strip_prefix(b"* ") else {
        return Ok(None);
    };
    let Some(space) = rest.iter().position(|&b| b == b' ') else {
        return Ok(None);
    };
    let (number, rest) = rest.split_at(space);
    let Some(rest) = rest.get(1..) else {
        return Ok(None);
    };
    if rest.len() < 6
        || !rest
            .get(..6)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"FETCH "))
    {
        return Ok(None);
    }
    let seq: u32 = std::str::from_utf8(number)?.parse()?;
    let values = parse_values(rest.get(6..).unwrap_or_default())?;
    let [Value::List(list)] = values.as_slice() else {
        bail!(
            "FETCH data is not one list: {:?}",
            String::from_utf8_lossy(raw)
        );
    };
    let mut items = Vec::new();
    let mut iter = list.iter();
    while let Some(name) = iter.next() {
        let name = name
            .as_atom()
            .with_context(|| format!("FETCH item name expected, got {name}"))?;
        let value = iter
            .next()
            .with_context(|| format!("FETCH item {name} without a value"))?;
        items.push((normalize_item_name(name), value.clone()));
    }
    Ok(Some(Fetch { seq, items }))
}

/// An item name upper-cased, with runs of spaces inside sections made single.
fn normalize_item_name(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

/// The numbers of a sequence set such as `1:3,7,9:8` (no `*`), in order of
/// appearance, each range ascending.
pub fn parse_sequence_set(set: &str) -> anyhow::Result<Vec<u32>> {
    let mut out = Vec::new();
    for part in set.split(',') {
        match part.split_once(':') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse()?, b.parse()?);
                out.extend(a.min(b)..=a.max(b));
            }
            None => out.push(part.parse()?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_lines_and_literals() {
        assert_eq!(frame(b"* OK hi\r\n* 1").unwrap(), Some(9));
        assert_eq!(frame(b"* 1 FETCH (BODY[] {3}\r\nab").unwrap(), None);
        assert_eq!(
            frame(b"* 1 FETCH (BODY[] {3}\r\nabc)\r\n").unwrap(),
            Some(29)
        );
        assert_eq!(
            frame(b"* 1 FETCH (BINARY[1] ~{2}\r\n\0\n)\r\nx").unwrap(),
            Some(32)
        );
        assert!(frame(b"* OK bare\n").is_err());
    }

    #[test]
    fn parses_fetch_items_structurally() {
        let raw = b"* 12 FETCH (UID 7 FLAGS (\\Seen $Label1) BODY[HEADER.FIELDS (SUBJECT  FROM)] {5}\r\nab\r\nc ENVELOPE (NIL \"s \\\"q\\\"\" NIL) BODY[]<0> \"x\")";
        let fetch = fetch_items(raw).unwrap().unwrap();
        assert_eq!(fetch.seq, 12);
        assert_eq!(fetch.uid(), Some(7));
        assert_eq!(fetch.flags().unwrap(), vec!["\\Seen", "$Label1"]);
        assert_eq!(
            fetch
                .get("body[header.fields (subject from)]")
                .unwrap()
                .as_bytes()
                .unwrap(),
            b"ab\r\nc"
        );
        assert_eq!(
            fetch.get("ENVELOPE").unwrap().to_imap(),
            "(NIL \"s \\\"q\\\"\" NIL)"
        );
        assert_eq!(fetch.get("BODY[]<0>").unwrap().as_text().unwrap(), "x");
        assert_eq!(fetch_items(b"* 3 EXISTS").unwrap(), None);
    }

    #[test]
    fn status_codes_and_sets() {
        assert_eq!(
            status_code("A1 OK [APPENDUID 5 3] done").as_deref(),
            Some("APPENDUID 5 3")
        );
        assert_eq!(
            status_code("* OK [PERMANENTFLAGS (\\Seen \\*)] x").as_deref(),
            Some("PERMANENTFLAGS (\\Seen \\*)")
        );
        assert_eq!(status_code("* 3 EXISTS"), None);
        assert_eq!(
            parse_sequence_set("1:3,7,9:8").unwrap(),
            vec![1, 2, 3, 7, 8, 9]
        );
    }
}
