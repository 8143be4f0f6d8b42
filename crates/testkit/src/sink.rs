//! A scriptable SMTP receiving server ("sink") for testing Postern's outbound client.
//!
//! [`SmtpSink::start`] binds a listener and answers every connection on its own thread
//! with a small but honest SMTP server: greeting, EHLO (or only HELO), AUTH PLAIN and
//! AUTH LOGIN, MAIL, RCPT, DATA with dot-unstuffing, BDAT chunks, RSET, NOOP and QUIT,
//! several transactions per connection. Every message it accepts is kept as a
//! [`Transaction`], so a test can check what the client really sent.
//!
//! Tests steer it per stage of the dialogue: [`SmtpSink::script`] queues a reply that
//! replaces the normal one the next time that stage happens (a 451 at one recipient, a
//! 554 after the data, a 421 greeting), and [`SmtpSink::stall`] makes the sink go
//! silent at a stage so the client's timeouts can be tested. A scripted reply starting
//! with `421` closes the connection after it is sent, as a real server does.
//!
//! Every read has a bound and a 30 s timeout, so a confused client cannot hang a test
//! for ever. Dropping the sink stops accepting and shuts down the open connections
//! (stalled ones included), so clients see the connection close.
//!
//! # Security
//! Test code only: it listens wherever it is told and keeps whole messages in memory
//! (capped by the advertised `SIZE`, at most [`MAX_MESSAGE`] bytes).

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

/// Host name the sink calls itself in its greeting and EHLO reply.
const HOSTNAME: &str = "sink.test";

/// Longest command line accepted (AUTH initial responses can be long, RFC 4954).
const MAX_LINE: u64 = 16 * 1024;

/// Most bytes read per step while receiving DATA (a longer line is read in pieces).
const DATA_READ: u64 = 64 * 1024;

/// Largest message kept in memory, whatever `SIZE` advertises; bigger ones get 552.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// How long a connection waits for the client before giving up on it.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a stalled connection or the accept loop looks at the shutdown flag.
const POLL: Duration = Duration::from_millis(10);

/// How a sink presents itself: what it advertises and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkOptions {
    /// Whether EHLO works; when false EHLO is answered 502 so the client must fall back
    /// to HELO (and then nothing is advertised: no AUTH, no CHUNKING).
    pub ehlo: bool,
    /// EHLO reply lines after the first one, e.g. `"PIPELINING"`, `"SIZE 1000"`,
    /// `"AUTH PLAIN LOGIN"`. `SIZE n` is enforced; AUTH mechanisms and CHUNKING are only
    /// accepted when listed here.
    pub capabilities: Vec<String>,
    /// The user name and password AUTH PLAIN / AUTH LOGIN accept (235); anything else
    /// gets 535. Only used when `capabilities` advertise AUTH. Authentication is never
    /// required for MAIL; tests check [`Transaction::auth_user`] instead.
    pub auth: Option<(String, String)>,
    /// The greeting line; a 4xx/5xx greeting lets tests check failover to another host.
    pub greeting: String,
}

impl Default for SinkOptions {
    /// EHLO with PIPELINING, 8BITMIME, SMTPUTF8, DSN, CHUNKING, ENHANCEDSTATUSCODES and
    /// SIZE 10240000, no AUTH, greeting `220 sink.test ESMTP`.
    fn default() -> Self {
        SinkOptions {
            ehlo: true,
            capabilities: [
                "PIPELINING",
                "8BITMIME",
                "SMTPUTF8",
                "DSN",
                "CHUNKING",
                "ENHANCEDSTATUSCODES",
                "SIZE 10240000",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            auth: None,
            greeting: format!("220 {HOSTNAME} ESMTP"),
        }
    }
}

/// One message the sink accepted (answered 2xx after the data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The EHLO/HELO argument the client gave on this connection.
    pub helo: String,
    /// The user name the client authenticated as on this connection, if it did.
    pub auth_user: Option<String>,
    /// Everything after `MAIL FROM:`, e.g. `<a@b> BODY=8BITMIME SIZE=123`, so tests can
    /// check the parameters the client sent.
    pub mail_from: String,
    /// Everything after `RCPT TO:` for each accepted recipient, in order; recipients
    /// refused by a scripted reply are left out.
    pub rcpt_to: Vec<String>,
    /// The message bytes: after dot-unstuffing (DATA) or all chunks joined (BDAT).
    pub data: Vec<u8>,
    /// Whether the message came with BDAT rather than DATA.
    pub bdat: bool,
    /// Which accepted connection (0-based) it came on, to check connection reuse.
    pub connection: usize,
}

/// A point in the SMTP dialogue where a test can replace the reply or stall.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The greeting, sent when a connection is accepted.
    Connect,
    /// The reply to MAIL FROM.
    Mail,
    /// The reply to any RCPT TO.
    Rcpt,
    /// The reply to RCPT TO for this address only (angle brackets and case do not
    /// matter). Checked before [`Stage::Rcpt`].
    RcptTo(String),
    /// The reply to the DATA command itself (instead of 354).
    Data,
    /// The final reply after the message (DATA's end or the last BDAT chunk).
    DataEnd,
}

impl Stage {
    /// The form used as a lookup key: recipient addresses bare and lower-case.
    fn normalized(&self) -> Stage {
        match self {
            Stage::RcptTo(address) => Stage::RcptTo(normalize_address(address)),
            other => other.clone(),
        }
    }
}

/// A running sink. Dropping it stops the listener and closes every open connection.
pub struct SmtpSink {
    /// Where it listens (the real port when started with port 0).
    addr: SocketAddr,
    /// State the connection threads share with the test.
    shared: Arc<Shared>,
    /// The accept loop, joined on drop.
    accept: Option<JoinHandle<()>>,
}

impl SmtpSink {
    /// Listens on `ip`:`port` (port 0 picks a free one) and starts accepting.
    pub fn start(ip: IpAddr, port: u16, options: SinkOptions) -> anyhow::Result<SmtpSink> {
        let listener = TcpListener::bind((ip, port))
            .with_context(|| format!("bind SMTP sink to {}", SocketAddr::new(ip, port)))?;
        // Non-blocking, so the accept loop can notice that the sink was dropped.
        listener
            .set_nonblocking(true)
            .context("make SMTP sink listener non-blocking")?;
        let addr = listener.local_addr().context("SMTP sink local address")?;
        let shared = Arc::new(Shared {
            options,
            scripts: Mutex::default(),
            transactions: Mutex::default(),
            connections: AtomicUsize::new(0),
            open: Mutex::default(),
            shutdown: AtomicBool::new(false),
        });
        let for_thread = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name(format!("smtp-sink-{}", addr.port()))
            .spawn(move || accept_loop(&listener, &for_thread))
            .context("spawn SMTP sink accept thread")?;
        Ok(SmtpSink {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues `reply` (a full reply line such as `"451 4.3.0 try later"`) to be sent
    /// instead of the normal one the next time `stage` happens. Replies queued for the
    /// same stage are used in order, each once.
    ///
    /// A 2xx reply at MAIL, RCPT or after the data still accepts (with that text), as
    /// does a 354 at DATA; anything else refuses that step. A reply starting with `421`
    /// also closes the connection.
    pub fn script(&self, stage: Stage, reply: &str) {
        lock(&self.shared.scripts)
            .replies
            .entry(stage.normalized())
            .or_default()
            .push_back(reply.trim_end_matches(['\r', '\n']).to_owned());
    }

    /// Makes the sink go silent the next time `stage` happens: it sends no reply (for
    /// [`Stage::Connect`], no greeting), reads and discards whatever comes, and keeps the
    /// connection open until the client closes it or the sink is dropped. Each call
    /// stalls once. A stall takes precedence over a scripted reply for the same stage.
    pub fn stall(&self, stage: Stage) {
        *lock(&self.shared.scripts)
            .stalls
            .entry(stage.normalized())
            .or_default() += 1;
    }

    /// The transactions accepted so far, in order (refused ones are not recorded).
    pub fn transactions(&self) -> Vec<Transaction> {
        lock(&self.shared.transactions).clone()
    }

    /// How many connections have been accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits until at least `count` transactions were accepted and returns them all, or
    /// fails after `timeout` saying how many arrived.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> anyhow::Result<Vec<Transaction>> {
        let deadline = Instant::now() + timeout;
        loop {
            let transactions = self.transactions();
            if transactions.len() >= count {
                return Ok(transactions);
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "timed out after {timeout:?} waiting for {count} transactions at the SMTP \
                     sink {}: {} arrived over {} connections",
                    self.addr,
                    transactions.len(),
                    self.connections()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            // The loop only ends by itself; a panic there has nothing left to clean up.
            let _ = accept.join();
        }
        // No connection can be added now; wake every session blocked in a read.
        for stream in lock(&self.shared.open).values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// What the test and the connection threads share.
struct Shared {
    /// The sink's fixed behaviour.
    options: SinkOptions,
    /// Pending scripted replies and stalls.
    scripts: Mutex<Scripts>,
    /// Accepted transactions, in the order they were accepted.
    transactions: Mutex<Vec<Transaction>>,
    /// Connections accepted so far; also the next connection's number.
    connections: AtomicUsize,
    /// A handle on each open connection, so dropping the sink can close them.
    open: Mutex<HashMap<usize, TcpStream>>,
    /// Set when the sink is dropped.
    shutdown: AtomicBool,
}

/// Test-supplied deviations from the normal dialogue, keyed by normalized stage.
#[derive(Default)]
struct Scripts {
    /// Replies to send instead of the normal one, first in first out.
    replies: HashMap<Stage, VecDeque<String>>,
    /// How many times to stall at each stage.
    stalls: HashMap<Stage, usize>,
}

/// What a test asked for at a stage.
enum Intercept {
    /// Nothing: answer normally.
    Normal,
    /// Send this reply instead.
    Reply(String),
    /// Go silent.
    Stall,
}

impl Shared {
    /// Consumes the stall or scripted reply for the first of `stages` that has one;
    /// stalls are looked at before replies.
    fn intercept(&self, stages: &[Stage]) -> Intercept {
        let mut scripts = lock(&self.scripts);
        for stage in stages {
            if let Some(count) = scripts.stalls.get_mut(stage)
                && *count > 0
            {
                *count -= 1;
                return Intercept::Stall;
            }
        }
        for stage in stages {
            if let Some(reply) = scripts.replies.get_mut(stage).and_then(VecDeque::pop_front) {
                return Intercept::Reply(reply);
            }
        }
        Intercept::Normal
    }

    /// The rest of the capability line starting with `keyword` (e.g. "AUTH" gives
    /// "PLAIN LOGIN"), if `capabilities` list it.
    fn capability(&self, keyword: &str) -> Option<&str> {
        self.options.capabilities.iter().find_map(|line| {
            let mut words = line.splitn(2, ' ');
            let first = words.next()?;
            first
                .eq_ignore_ascii_case(keyword)
                .then(|| words.next().unwrap_or("").trim())
        })
    }

    /// The message size limit: the advertised `SIZE`, and never more than
    /// [`MAX_MESSAGE`].
    fn size_limit(&self) -> usize {
        self.capability("SIZE")
            .and_then(|size| size.parse::<usize>().ok())
            .filter(|&size| size > 0)
            .map_or(MAX_MESSAGE, |size| size.min(MAX_MESSAGE))
    }
}

/// Locks `mutex`, carrying on after a panic elsewhere (the data stays usable).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Accepts connections until the sink is dropped, each served on its own thread.
fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.shutdown.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => spawn_session(stream, shared),
            // WouldBlock, or a transient failure such as running out of descriptors.
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Numbers the connection, registers it for shutdown and serves it on a new thread.
fn spawn_session(stream: TcpStream, shared: &Arc<Shared>) {
    let connection = shared.connections.fetch_add(1, Ordering::SeqCst);
    let prepared = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(READ_TIMEOUT)))
        .and_then(|()| stream.try_clone());
    let Ok(handle) = prepared else {
        return;
    };
    lock(&shared.open).insert(connection, handle);
    let session = Session {
        shared: Arc::clone(shared),
        reader: BufReader::new(stream),
        connection,
        greeted: None,
        auth_user: None,
        envelope: None,
    };
    let spawned = std::thread::Builder::new()
        .name(format!("smtp-sink-conn-{connection}"))
        .spawn(move || {
            let shared = Arc::clone(&session.shared);
            // I/O errors (timeouts, resets) simply end the connection.
            let _ = session.run();
            lock(&shared.open).remove(&connection);
        });
    if spawned.is_err() {
        lock(&shared.open).remove(&connection);
    }
}

/// What a session does after answering a command.
enum Flow {
    /// Read the next command.
    Continue,
    /// Close the connection.
    Close,
    /// Go silent until the client closes or the sink is dropped.
    Stall,
}

/// The client's EHLO/HELO.
struct Greeted {
    /// The argument it gave.
    name: String,
    /// True for EHLO: capabilities were advertised.
    extended: bool,
}

/// The transaction in progress, from MAIL until the end of the data.
struct Envelope {
    /// Text after `MAIL FROM:`.
    mail_from: String,
    /// Text after `RCPT TO:` of each accepted recipient.
    rcpt_to: Vec<String>,
    /// BDAT chunks received so far; `None` until the first chunk.
    chunks: Option<Received>,
}

/// Message bytes received so far.
#[derive(Default)]
struct Received {
    /// The bytes kept.
    data: Vec<u8>,
    /// Set once the message went over the size limit; the rest is discarded.
    too_big: bool,
}

impl Received {
    /// Keeps `bytes` unless the message would then exceed `limit`.
    fn append(&mut self, bytes: &[u8], limit: usize) {
        if self.too_big || self.data.len().saturating_add(bytes.len()) > limit {
            self.too_big = true;
        } else {
            self.data.extend_from_slice(bytes);
        }
    }
}

/// One connection's server side.
struct Session {
    /// Options, scripts and the transaction log.
    shared: Arc<Shared>,
    /// The connection; replies are written to the inner stream.
    reader: BufReader<TcpStream>,
    /// This connection's number.
    connection: usize,
    /// Set by EHLO/HELO.
    greeted: Option<Greeted>,
    /// Set by successful AUTH.
    auth_user: Option<String>,
    /// Set by MAIL, cleared by the end of data, RSET and EHLO/HELO.
    envelope: Option<Envelope>,
}

impl Session {
    /// Serves the connection until QUIT, EOF, an error or the sink's shutdown.
    fn run(mut self) -> io::Result<()> {
        let greeting = match self.shared.intercept(&[Stage::Connect]) {
            Intercept::Stall => return self.stall(),
            Intercept::Reply(reply) => reply,
            Intercept::Normal => self.shared.options.greeting.clone(),
        };
        self.send(&greeting)?;
        if !greeting.starts_with('2') {
            return self.refuse_all(&greeting);
        }
        while let Some(line) = self.read_command()? {
            match self.dispatch(&line)? {
                Flow::Continue => {}
                Flow::Close => return Ok(()),
                Flow::Stall => return self.stall(),
            }
        }
        Ok(())
    }

    /// After a refusing greeting: close on 421, else answer only QUIT (RFC 5321 3.1).
    fn refuse_all(mut self, greeting: &str) -> io::Result<()> {
        if greeting.starts_with("421") {
            return Ok(());
        }
        while let Some(line) = self.read_command()? {
            if split_command(&line).0 == "QUIT" {
                return self.send("221 2.0.0 Bye");
            }
            self.send("503 5.5.1 No service")?;
        }
        Ok(())
    }

    /// Sends nothing more; discards input until EOF or the sink is dropped.
    fn stall(mut self) -> io::Result<()> {
        self.reader.get_ref().set_read_timeout(Some(POLL * 10))?;
        let mut buf = [0u8; 4096];
        while !self.shared.shutdown.load(Ordering::SeqCst) {
            match self.reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Handles one command line.
    fn dispatch(&mut self, line: &str) -> io::Result<Flow> {
        let (verb, arg) = split_command(line);
        match verb.as_str() {
            "EHLO" => self.ehlo(arg),
            "HELO" => self.helo(arg),
            "AUTH" => self.auth(arg),
            "MAIL" => self.mail(line),
            "RCPT" => self.rcpt(line),
            "DATA" => self.data(arg),
            "BDAT" => self.bdat(arg),
            "RSET" => {
                self.envelope = None;
                self.answer("250 2.0.0 Ok")
            }
            "NOOP" => self.answer("250 2.0.0 Ok"),
            "QUIT" => {
                self.send("221 2.0.0 Bye")?;
                Ok(Flow::Close)
            }
            _ => self.answer("500 5.5.2 Command not recognized"),
        }
    }

    /// EHLO: lists the capabilities, or 502 when EHLO is switched off.
    fn ehlo(&mut self, name: &str) -> io::Result<Flow> {
        if !self.shared.options.ehlo {
            return self.answer("502 5.5.1 EHLO not supported, use HELO");
        }
        if name.is_empty() {
            return self.answer("501 5.5.4 Syntax: EHLO hostname");
        }
        self.greeted = Some(Greeted {
            name: name.to_owned(),
            extended: true,
        });
        self.envelope = None;
        let mut lines = vec![HOSTNAME.to_owned()];
        lines.extend(self.shared.options.capabilities.iter().cloned());
        let count = lines.len();
        let mut reply = String::new();
        for (i, line) in lines.iter().enumerate() {
            let separator = if i + 1 == count { ' ' } else { '-' };
            reply.push_str(&format!("250{separator}{line}\r\n"));
        }
        self.reader.get_mut().write_all(reply.as_bytes())?;
        Ok(Flow::Continue)
    }

    /// HELO: greets without advertising anything.
    fn helo(&mut self, name: &str) -> io::Result<Flow> {
        if name.is_empty() {
            return self.answer("501 5.5.4 Syntax: HELO hostname");
        }
        self.greeted = Some(Greeted {
            name: name.to_owned(),
            extended: false,
        });
        self.envelope = None;
        self.answer(&format!("250 {HOSTNAME}"))
    }

    /// The capability `keyword` if this session was offered it (EHLO, and listed).
    fn offered(&self, keyword: &str) -> Option<&str> {
        match &self.greeted {
            Some(Greeted { extended: true, .. }) => self.shared.capability(keyword),
            _ => None,
        }
    }

    /// AUTH PLAIN or LOGIN, checked against [`SinkOptions::auth`].
    fn auth(&mut self, arg: &str) -> io::Result<Flow> {
        let Some(mechanisms) = self.offered("AUTH") else {
            return self.answer("503 5.5.1 AUTH not available");
        };
        if self.auth_user.is_some() {
            return self.answer("503 5.5.1 Already authenticated");
        }
        if self.envelope.is_some() {
            return self.answer("503 5.5.1 AUTH not allowed during a transaction");
        }
        let mut words = arg.split_whitespace();
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let initial = words.next().map(str::to_owned);
        if !mechanisms
            .split_whitespace()
            .any(|offered| offered.eq_ignore_ascii_case(&mechanism))
        {
            return self.answer("504 5.5.4 Mechanism not supported");
        }
        let credentials = match mechanism.as_str() {
            "PLAIN" => {
                let Some(response) = self.challenge(initial, "")? else {
                    return Ok(Flow::Close);
                };
                response.map(|response| {
                    // authzid NUL authcid NUL password
                    let mut parts = response.splitn(3, |&b| b == 0).skip(1);
                    let user = parts.next().unwrap_or_default();
                    let password = parts.next().unwrap_or_default();
                    (lossy(user), lossy(password))
                })
            }
            "LOGIN" => {
                // The prompts are base64 of "Username:" and "Password:".
                let Some(user) = self.challenge(initial, "VXNlcm5hbWU6")? else {
                    return Ok(Flow::Close);
                };
                match user {
                    Ok(user) => {
                        let Some(password) = self.challenge(None, "UGFzc3dvcmQ6")? else {
                            return Ok(Flow::Close);
                        };
                        password.map(|password| (lossy(&user), lossy(&password)))
                    }
                    Err(reply) => Err(reply),
                }
            }
            _ => return self.answer("504 5.5.4 Mechanism not supported"),
        };
        match credentials {
            Err(reply) => self.answer(reply),
            Ok((user, password)) => {
                let accepted = self.shared.options.auth.as_ref() == Some(&(user.clone(), password));
                if accepted {
                    self.auth_user = Some(user);
                    self.answer("235 2.7.0 Authentication successful")
                } else {
                    self.answer("535 5.7.8 Authentication credentials invalid")
                }
            }
        }
    }

    /// Gets one base64 SASL response: `initial` if given, else the next line after a
    /// `334 prompt`. `None` at EOF; `Err` holds the reply for a cancelled or
    /// undecodable response.
    fn challenge(
        &mut self,
        initial: Option<String>,
        prompt: &str,
    ) -> io::Result<Option<Result<Vec<u8>, &'static str>>> {
        let response = match initial {
            Some(initial) => initial,
            None => {
                self.send(&format!("334 {prompt}"))?;
                match self.read_command()? {
                    Some(line) => line,
                    None => return Ok(None),
                }
            }
        };
        let response = response.trim();
        Ok(Some(match response {
            "*" => Err("501 5.0.0 Authentication cancelled"),
            "=" => Ok(Vec::new()),
            _ => decode_base64(response).ok_or("501 5.5.2 Invalid base64 data"),
        }))
    }

    /// MAIL FROM: starts a transaction (checking a declared SIZE).
    fn mail(&mut self, line: &str) -> io::Result<Flow> {
        if self.greeted.is_none() {
            return self.answer("503 5.5.1 Send EHLO or HELO first");
        }
        if self.envelope.is_some() {
            return self.answer("503 5.5.1 Nested MAIL command");
        }
        let Some(arg) = strip_prefix_ignore_case(line, "MAIL FROM:") else {
            return self.answer("501 5.5.4 Syntax: MAIL FROM:<address>");
        };
        let declared = arg.split_whitespace().skip(1).find_map(|param| {
            strip_prefix_ignore_case(param, "SIZE=").and_then(|size| size.parse::<usize>().ok())
        });
        if declared.is_some_and(|size| size > self.shared.size_limit()) {
            return self.answer("552 5.3.4 Message size exceeds fixed limit");
        }
        let reply = match self.shared.intercept(&[Stage::Mail]) {
            Intercept::Stall => return Ok(Flow::Stall),
            Intercept::Reply(reply) if !reply.starts_with('2') => return self.answer(&reply),
            Intercept::Reply(reply) => reply,
            Intercept::Normal => "250 2.1.0 Ok".to_owned(),
        };
        self.envelope = Some(Envelope {
            mail_from: arg.to_owned(),
            rcpt_to: Vec::new(),
            chunks: None,
        });
        self.answer(&reply)
    }

    /// RCPT TO: adds a recipient unless a script refuses it.
    fn rcpt(&mut self, line: &str) -> io::Result<Flow> {
        match &self.envelope {
            None => return self.answer("503 5.5.1 Need MAIL command"),
            Some(envelope) if envelope.chunks.is_some() => {
                return self.answer("503 5.5.1 RCPT during BDAT");
            }
            Some(_) => {}
        }
        let Some(arg) = strip_prefix_ignore_case(line, "RCPT TO:") else {
            return self.answer("501 5.5.4 Syntax: RCPT TO:<address>");
        };
        let address = normalize_address(arg);
        let reply = match self
            .shared
            .intercept(&[Stage::RcptTo(address), Stage::Rcpt])
        {
            Intercept::Stall => return Ok(Flow::Stall),
            Intercept::Reply(reply) if !reply.starts_with('2') => return self.answer(&reply),
            Intercept::Reply(reply) => reply,
            Intercept::Normal => "250 2.1.5 Ok".to_owned(),
        };
        if let Some(envelope) = &mut self.envelope {
            envelope.rcpt_to.push(arg.to_owned());
        }
        self.answer(&reply)
    }

    /// DATA: receives a dot-stuffed message and ends the transaction.
    fn data(&mut self, arg: &str) -> io::Result<Flow> {
        if !arg.is_empty() {
            return self.answer("501 5.5.4 Syntax: DATA");
        }
        if let Some(refusal) = self.refuse_data() {
            return self.answer(refusal);
        }
        if self.envelope.as_ref().is_some_and(|e| e.chunks.is_some()) {
            return self.answer("503 5.5.1 DATA during BDAT");
        }
        let reply = match self.shared.intercept(&[Stage::Data]) {
            Intercept::Stall => return Ok(Flow::Stall),
            Intercept::Reply(reply) if !reply.starts_with("354") => return self.answer(&reply),
            Intercept::Reply(reply) => reply,
            Intercept::Normal => "354 End data with <CR><LF>.<CR><LF>".to_owned(),
        };
        self.send(&reply)?;
        match self.read_message()? {
            Some(received) => self.finish(received, false),
            None => Ok(Flow::Close),
        }
    }

    /// Why data cannot be sent now, if it cannot.
    fn refuse_data(&self) -> Option<&'static str> {
        match &self.envelope {
            None => Some("503 5.5.1 Need MAIL command"),
            Some(envelope) if envelope.rcpt_to.is_empty() => Some("554 5.5.1 No valid recipients"),
            Some(_) => None,
        }
    }

    /// Reads a dot-stuffed message up to CRLF.CRLF; `None` at EOF.
    fn read_message(&mut self) -> io::Result<Option<Received>> {
        let limit = self.shared.size_limit();
        let mut received = Received::default();
        let mut at_line_start = true;
        let mut piece = Vec::new();
        loop {
            piece.clear();
            if (&mut self.reader)
                .take(DATA_READ)
                .read_until(b'\n', &mut piece)?
                == 0
            {
                return Ok(None);
            }
            let mut bytes = piece.as_slice();
            if at_line_start {
                if bytes == b".\r\n" {
                    return Ok(Some(received));
                }
                bytes = bytes.strip_prefix(b".").unwrap_or(bytes);
            }
            at_line_start = bytes.ends_with(b"\n");
            received.append(bytes, limit);
        }
    }

    /// BDAT: receives exactly `size` bytes; the LAST chunk ends the transaction.
    fn bdat(&mut self, arg: &str) -> io::Result<Flow> {
        let mut words = arg.split_whitespace();
        let size = words.next().and_then(|size| size.parse::<u64>().ok());
        let last = match words.next() {
            None => Some(false),
            Some(word) if word.eq_ignore_ascii_case("LAST") => Some(true),
            Some(_) => None,
        };
        let (Some(size), Some(last), None) = (size, last, words.next()) else {
            return self.answer("501 5.5.4 Syntax: BDAT size [LAST]");
        };
        // The chunk follows the command whatever the answer, so it is always read.
        let refusal = if self.offered("CHUNKING").is_none() {
            Some("502 5.5.1 CHUNKING not offered")
        } else {
            self.refuse_data()
        };
        let limit = self.shared.size_limit();
        let keep = refusal.is_none() && usize::try_from(size).is_ok_and(|size| size <= limit);
        let mut chunk = Vec::new();
        let got = if keep {
            (&mut self.reader).take(size).read_to_end(&mut chunk)?;
            u64::try_from(chunk.len()).unwrap_or(u64::MAX)
        } else {
            io::copy(&mut (&mut self.reader).take(size), &mut io::sink())?
        };
        if got < size {
            return Ok(Flow::Close);
        }
        if let Some(refusal) = refusal {
            return self.answer(refusal);
        }
        let Some(envelope) = &mut self.envelope else {
            return self.answer("503 5.5.1 Need MAIL command");
        };
        let received = envelope.chunks.get_or_insert_with(Received::default);
        if keep {
            received.append(&chunk, limit);
        } else {
            received.too_big = true;
        }
        if !last {
            return self.answer(&format!("250 2.0.0 {size} octets received"));
        }
        let received = envelope.chunks.take().unwrap_or_default();
        self.finish(received, true)
    }

    /// Ends the transaction after its data: records it and answers 250, unless a test
    /// scripted otherwise or the message is too big.
    fn finish(&mut self, received: Received, bdat: bool) -> io::Result<Flow> {
        let Some(envelope) = self.envelope.take() else {
            return self.answer("503 5.5.1 Need MAIL command");
        };
        let scripted = match self.shared.intercept(&[Stage::DataEnd]) {
            Intercept::Stall => return Ok(Flow::Stall),
            Intercept::Reply(reply) if !reply.starts_with('2') => return self.answer(&reply),
            Intercept::Reply(reply) => Some(reply),
            Intercept::Normal => None,
        };
        if received.too_big {
            return self.answer("552 5.3.4 Message size exceeds fixed limit");
        }
        let transaction = Transaction {
            helo: self
                .greeted
                .as_ref()
                .map(|greeted| greeted.name.clone())
                .unwrap_or_default(),
            auth_user: self.auth_user.clone(),
            mail_from: envelope.mail_from,
            rcpt_to: envelope.rcpt_to,
            data: received.data,
            bdat,
            connection: self.connection,
        };
        // Recorded before the reply, so a client that saw 250 finds it recorded.
        let index = {
            let mut transactions = lock(&self.shared.transactions);
            transactions.push(transaction);
            transactions.len().saturating_sub(1)
        };
        let reply = scripted.unwrap_or_else(|| format!("250 2.0.0 Ok: queued as SINK{index}"));
        self.answer(&reply)
    }

    /// Reads one command line without its line ending; `None` at EOF. A line over
    /// [`MAX_LINE`] is answered 500 and ends the connection.
    fn read_command(&mut self) -> io::Result<Option<String>> {
        let mut line = Vec::new();
        (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\n") {
            if u64::try_from(line.len()).is_ok_and(|len| len >= MAX_LINE) {
                self.send("500 5.5.2 Line too long")?;
            }
            return Ok(None);
        }
        let text = lossy(&line);
        Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
    }

    /// Sends `reply` and says whether to go on: a 421 closes the connection.
    fn answer(&mut self, reply: &str) -> io::Result<Flow> {
        self.send(reply)?;
        Ok(if reply.starts_with("421") {
            Flow::Close
        } else {
            Flow::Continue
        })
    }

    /// Writes one reply (CRLF added).
    fn send(&mut self, reply: &str) -> io::Result<()> {
        self.reader
            .get_mut()
            .write_all(format!("{reply}\r\n").as_bytes())
    }
}

/// Splits a command line into its upper-cased verb and the trimmed rest.
fn split_command(line: &str) -> (String, &str) {
    let line = line.trim_start();
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    (verb.to_ascii_uppercase(), rest.trim())
}

/// `text` after `prefix` (ASCII case ignored), trimmed.
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
        .map(str::trim)
}

/// The bare, lower-cased address of a path argument such as `<A@b> NOTIFY=NEVER`.
fn normalize_address(arg: &str) -> String {
    let arg = arg.trim();
    let address = match arg.strip_prefix('<') {
        Some(rest) => rest.split('>').next().unwrap_or(rest),
        None => arg.split_whitespace().next().unwrap_or(arg),
    };
    address.to_lowercase()
}

/// Bytes as text, invalid UTF-8 replaced.
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether `error` is a read timeout (its kind differs between platforms).
fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Decodes standard base64 (padding optional); `None` on any other character.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = ((acc << 6) | u32::from(value)) & 0xFFFF;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xFF).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SmtpClient, SmtpReply};

    const WAIT: Duration = Duration::from_secs(5);

    fn start(options: SinkOptions) -> SmtpSink {
        SmtpSink::start(IpAddr::from([127, 0, 0, 1]), 0, options).unwrap()
    }

    fn connect(sink: &SmtpSink) -> SmtpClient {
        SmtpClient::connect(sink.addr().port()).unwrap()
    }

    /// EHLO, MAIL and one RCPT, each answered 250.
    fn envelope(client: &mut SmtpClient, from: &str, to: &str) {
        client
            .send("EHLO client.test")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client
            .send(&format!("MAIL FROM:{from}"))
            .unwrap()
            .expect_code(250)
            .unwrap();
        client
            .send(&format!("RCPT TO:{to}"))
            .unwrap()
            .expect_code(250)
            .unwrap();
    }

    /// Sends raw DATA content (already dot-stuffed, ending in CRLF.CRLF).
    fn data_raw(client: &mut SmtpClient, stuffed: &str) -> SmtpReply {
        client.send("DATA").unwrap().expect_code(354).unwrap();
        client.write_raw(stuffed.as_bytes()).unwrap();
        client.read_reply().unwrap()
    }

    #[test]
    fn ehlo_lists_default_capabilities() {
        let sink = start(SinkOptions::default());
        let mut client = connect(&sink);
        let reply = client
            .send("EHLO client.test")
            .unwrap()
            .expect_code(250)
            .unwrap();
        assert_eq!(
            reply.lines,
            [
                "sink.test",
                "PIPELINING",
                "8BITMIME",
                "SMTPUTF8",
                "DSN",
                "CHUNKING",
                "ENHANCEDSTATUSCODES",
                "SIZE 10240000"
            ]
        );
        client.send("QUIT").unwrap().expect_code(221).unwrap();
        assert!(client.is_closed());
    }

    #[test]
    fn data_is_unstuffed_and_recorded_with_parameters() {
        let sink = start(SinkOptions::default());
        let mut client = connect(&sink);
        envelope(
            &mut client,
            "<a@b.test> BODY=8BITMIME SIZE=40",
            "<C@d.test> NOTIFY=NEVER",
        );
        let reply = data_raw(&mut client, "Subject: x\r\n\r\n..dot line\r\nend\r\n.\r\n");
        assert_eq!(reply.code, 250);
        assert_eq!(reply.text(), "2.0.0 Ok: queued as SINK0");
        let transactions = sink.wait_for(1, WAIT).unwrap();
        assert_eq!(
            transactions,
            [Transaction {
                helo: "client.test".into(),
                auth_user: None,
                mail_from: "<a@b.test> BODY=8BITMIME SIZE=40".into(),
                rcpt_to: vec!["<C@d.test> NOTIFY=NEVER".into()],
                data: b"Subject: x\r\n\r\n.dot line\r\nend\r\n".to_vec(),
                bdat: false,
                connection: 0,
            }]
        );
    }

    #[test]
    fn bdat_chunks_are_joined() {
        let sink = start(SinkOptions::default());
        let mut client = connect(&sink);
        envelope(&mut client, "<a@b.test>", "<c@d.test>");
        client.write_raw(b"BDAT 6\r\nHello ").unwrap();
        let reply = client.read_reply().unwrap().expect_code(250).unwrap();
        assert_eq!(reply.text(), "2.0.0 6 octets received");
        // A chunk may hold what would end DATA; BDAT counts bytes only.
        client
            .write_raw(b"BDAT 12 LAST\r\nworld\r\n.\r\n\r\n")
            .unwrap();
        let reply = client.read_reply().unwrap().expect_code(250).unwrap();
        assert_eq!(reply.text(), "2.0.0 Ok: queued as SINK0");
        let transactions = sink.wait_for(1, WAIT).unwrap();
        assert_eq!(transactions[0].data, b"Hello world\r\n.\r\n\r\n");
        assert!(transactions[0].bdat);
    }

    #[test]
    fn bdat_without_chunking_is_refused_but_read() {
        let options = SinkOptions {
            capabilities: vec!["PIPELINING".into()],
            ..SinkOptions::default()
        };
        let sink = start(options);
        let mut client = connect(&sink);
        envelope(&mut client, "<a@b.test>", "<c@d.test>");
        client.write_raw(b"BDAT 5 LAST\r\nHello").unwrap();
        client.read_reply().unwrap().expect_code(502).unwrap();
        client.send("NOOP").unwrap().expect_code(250).unwrap();
        assert!(sink.transactions().is_empty());
    }

    #[test]
    fn transactions_on_one_connection_share_its_number() {
        let sink = start(SinkOptions::default());
        let mut client = connect(&sink);
        for n in 0..2 {
            envelope(&mut client, &format!("<a{n}@b.test>"), "<c@d.test>");
            client.data("hello\r\n").unwrap().expect_code(250).unwrap();
        }
        let mut other = connect(&sink);
        envelope(&mut other, "<x@b.test>", "<c@d.test>");
        other.data("again\r\n").unwrap().expect_code(250).unwrap();

        let transactions = sink.wait_for(3, WAIT).unwrap();
        let connections: Vec<_> = transactions.iter().map(|t| t.connection).collect();
        assert_eq!(connections, [0, 0, 1]);
        assert_eq!(transactions[1].mail_from, "<a1@b.test>");
        assert_eq!(sink.connections(), 2);
    }

    #[test]
    fn scripted_451_refuses_only_that_recipient_once() {
        let sink = start(SinkOptions::default());
        sink.script(Stage::RcptTo("Bad@D.test".into()), "451 4.3.0 try later");
        let mut client = connect(&sink);
        client
            .send("EHLO client.test")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client
            .send("MAIL FROM:<a@b.test>")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client
            .send("RCPT TO:<good@d.test>")
            .unwrap()
            .expect_code(250)
            .unwrap();
        let reply = client.send("RCPT TO:<bad@d.test>").unwrap();
        assert_eq!((reply.code, reply.text()), (451, "4.3.0 try later".into()));
        client.data("hi\r\n").unwrap().expect_code(250).unwrap();
        // Consumed: the same address is accepted the next time.
        client
            .send("MAIL FROM:<a@b.test>")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client
            .send("RCPT TO:<bad@d.test>")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client.send("RSET").unwrap().expect_code(250).unwrap();

        let transactions = sink.wait_for(1, WAIT).unwrap();
        assert_eq!(transactions.len(), 1);
        assert_eq!(transactions[0].rcpt_to, ["<good@d.test>"]);
    }

    #[test]
    fn scripted_554_after_data_is_not_recorded() {
        let sink = start(SinkOptions::default());
        sink.script(Stage::DataEnd, "554 5.7.1 rejected");
        let mut client = connect(&sink);
        envelope(&mut client, "<first@b.test>", "<c@d.test>");
        client.data("one\r\n").unwrap().expect_code(554).unwrap();
        client
            .send("MAIL FROM:<second@b.test>")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client
            .send("RCPT TO:<c@d.test>")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client.data("two\r\n").unwrap().expect_code(250).unwrap();

        let transactions = sink.wait_for(1, WAIT).unwrap();
        assert_eq!(transactions.len(), 1);
        assert_eq!(transactions[0].mail_from, "<second@b.test>");
    }

    #[test]
    fn scripted_421_greeting_closes_the_connection() {
        let sink = start(SinkOptions::default());
        sink.script(Stage::Connect, "421 4.3.2 go away");
        let stream = TcpStream::connect(sink.addr()).unwrap();
        let mut reader = BufReader::new(stream);
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "421 4.3.2 go away\r\n");
        // Consumed: the next connection gets the normal greeting.
        connect(&sink);
    }

    fn auth_options() -> SinkOptions {
        let mut options = SinkOptions {
            auth: Some(("joe".into(), "secret".into())),
            ..SinkOptions::default()
        };
        options.capabilities.push("AUTH PLAIN LOGIN".into());
        options
    }

    #[test]
    fn auth_plain_accepts_the_configured_credentials() {
        let sink = start(auth_options());
        let mut client = connect(&sink);
        client
            .send("EHLO client.test")
            .unwrap()
            .expect_code(250)
            .unwrap();
        // "\0joe\0secret"
        client
            .send("AUTH PLAIN AGpvZQBzZWNyZXQ=")
            .unwrap()
            .expect_code(235)
            .unwrap();
        client
            .send("MAIL FROM:<joe@b.test>")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client
            .send("RCPT TO:<c@d.test>")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client.data("hi\r\n").unwrap().expect_code(250).unwrap();
        let transactions = sink.wait_for(1, WAIT).unwrap();
        assert_eq!(transactions[0].auth_user.as_deref(), Some("joe"));

        // Without an initial response the sink asks for it.
        let mut client = connect(&sink);
        client
            .send("EHLO client.test")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client.send("AUTH PLAIN").unwrap().expect_code(334).unwrap();
        client
            .send("AGpvZQBzZWNyZXQ=")
            .unwrap()
            .expect_code(235)
            .unwrap();
    }

    #[test]
    fn auth_plain_rejects_a_wrong_password() {
        let sink = start(auth_options());
        let mut client = connect(&sink);
        client
            .send("EHLO client.test")
            .unwrap()
            .expect_code(250)
            .unwrap();
        // "\0joe\0wrong"
        client
            .send("AUTH PLAIN AGpvZQB3cm9uZw==")
            .unwrap()
            .expect_code(535)
            .unwrap();
        client
            .send("AUTH PLAIN !!!")
            .unwrap()
            .expect_code(501)
            .unwrap();
        client
            .send("AUTH CRAM-MD5")
            .unwrap()
            .expect_code(504)
            .unwrap();
    }

    #[test]
    fn auth_login_asks_for_user_and_password() {
        let sink = start(auth_options());
        let mut client = connect(&sink);
        client
            .send("EHLO client.test")
            .unwrap()
            .expect_code(250)
            .unwrap();
        let reply = client.send("AUTH LOGIN").unwrap().expect_code(334).unwrap();
        assert_eq!(reply.text(), "VXNlcm5hbWU6");
        let reply = client.send("am9l").unwrap().expect_code(334).unwrap();
        assert_eq!(reply.text(), "UGFzc3dvcmQ6");
        client.send("c2VjcmV0").unwrap().expect_code(235).unwrap();
    }

    #[test]
    fn auth_is_refused_when_not_advertised() {
        let sink = start(SinkOptions::default());
        let mut client = connect(&sink);
        client
            .send("EHLO client.test")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client
            .send("AUTH PLAIN AGpvZQBzZWNyZXQ=")
            .unwrap()
            .expect_code(503)
            .unwrap();
    }

    #[test]
    fn helo_fallback_when_ehlo_is_off() {
        let sink = start(SinkOptions {
            ehlo: false,
            ..SinkOptions::default()
        });
        let mut client = connect(&sink);
        client
            .send("EHLO client.test")
            .unwrap()
            .expect_code(502)
            .unwrap();
        let reply = client
            .send("HELO client.test")
            .unwrap()
            .expect_code(250)
            .unwrap();
        assert_eq!(reply.text(), "sink.test");
        client
            .send("MAIL FROM:<a@b.test>")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client
            .send("RCPT TO:<c@d.test>")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client.data("hi\r\n").unwrap().expect_code(250).unwrap();
        let transactions = sink.wait_for(1, WAIT).unwrap();
        assert_eq!(transactions[0].helo, "client.test");
    }

    #[test]
    fn size_over_the_advertised_limit_is_refused() {
        let options = SinkOptions {
            capabilities: vec!["SIZE 10".into()],
            ..SinkOptions::default()
        };
        let sink = start(options);
        let mut client = connect(&sink);
        client
            .send("EHLO client.test")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client
            .send("MAIL FROM:<a@b.test> SIZE=11")
            .unwrap()
            .expect_code(552)
            .unwrap();
        client
            .send("MAIL FROM:<a@b.test>")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client
            .send("RCPT TO:<c@d.test>")
            .unwrap()
            .expect_code(250)
            .unwrap();
        client
            .data("0123456789\r\n")
            .unwrap()
            .expect_code(552)
            .unwrap();
        assert!(sink.transactions().is_empty());
    }

    #[test]
    fn stall_at_connect_sends_nothing_once() {
        let sink = start(SinkOptions::default());
        sink.stall(Stage::Connect);
        let mut stream = TcpStream::connect(sink.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 64];
        let error = stream.read(&mut buf).unwrap_err();
        assert!(is_timeout(&error), "{error:?}");
        // The next connection is greeted.
        connect(&sink);
        // Dropping the sink closes the stalled connection.
        drop(sink);
        stream.set_read_timeout(Some(WAIT)).unwrap();
        assert_eq!(stream.read(&mut buf).unwrap(), 0);
    }

    #[test]
    fn stall_after_data_leaves_the_client_waiting() {
        let sink = start(SinkOptions::default());
        sink.stall(Stage::DataEnd);
        let mut client = connect(&sink);
        envelope(&mut client, "<a@b.test>", "<c@d.test>");
        client.send("DATA").unwrap().expect_code(354).unwrap();
        client.write_raw(b"hi\r\n.\r\n").unwrap();
        assert!(sink.wait_for(1, Duration::from_millis(300)).is_err());
        drop(sink);
        assert!(client.read_reply().is_err());
    }

    #[test]
    fn wait_for_names_how_many_arrived() {
        let sink = start(SinkOptions::default());
        let error = sink.wait_for(2, Duration::from_millis(50)).unwrap_err();
        assert!(
            error.to_string().contains("0 arrived over 0 connections"),
            "{error}"
        );
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("am9l").unwrap(), b"joe");
        assert_eq!(decode_base64("c2VjcmV0").unwrap(), b"secret");
        assert_eq!(decode_base64("AGpvZQB3cm9uZw==").unwrap(), b"\0joe\0wrong");
        assert_eq!(decode_base64("AGpvZQB3cm9uZw").unwrap(), b"\0joe\0wrong");
        assert!(decode_base64("a b").is_none());
    }
}
