//! One POP3 session: AUTHORIZATION, TRANSACTION and UPDATE (RFC 1939).

use std::net::IpAddr;
use std::time::Duration;

use accounts::Login;
use pop3_proto::{Code, Command, MAX_AUTH_LINE, MAX_LINE, MultiLine, Response};
use service::{CancellationToken, Stream};
use smtp_proto::command::LineReader;
use tls::MaybeTls;
use tokio::io::AsyncReadExt;
use tracing::{info, warn};

use crate::maildrop::{Maildrop, OpenError};

/// What every session of this process shares.
pub struct Shared {
    pub accounts: accounts::Directory,
    pub throttle: accounts::AuthThrottle,
    pub tls: tls::TlsAcceptor,
    pub wrappermode: bool,
    pub plaintext_disabled: bool,
    pub timeout: Duration,
    pub myhostname: String,
}

/// How much is read from the socket at a time.
const READ_SIZE: usize = 16 * 1024;
/// Output held before it is written even with more commands waiting.
const FLUSH_AT: usize = 64 * 1024;
/// Bad commands before the server hangs up.
const ERROR_LIMIT: u32 = 20;
/// Failed (or throttled) logins in one session before the server hangs up: someone
/// guessing passwords has to connect again, which costs more than another command.
const LOGIN_FAILURE_LIMIT: u32 = 5;

enum State {
    /// Waiting for USER/PASS or AUTH; `user` after a USER command.
    Authorization { user: Option<String> },
    /// Logged in.
    Transaction(Box<Maildrop>),
}

/// Why the session ended.
enum End {
    Closed,
    Gone,
}

/// Counts for the logout line.
#[derive(Default)]
struct Counts {
    top: (u32, u64),
    retr: (u32, u64),
}

pub struct Session<'a> {
    shared: &'a Shared,
    io: MaybeTls<Stream>,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    lines: LineReader,
    ip: IpAddr,
    tls: Option<String>,
    state: State,
    user: Option<String>,
    counts: Counts,
    errors: u32,
    failed_logins: u32,
    shutdown: CancellationToken,
}

impl<'a> Session<'a> {
    pub fn new(
        shared: &'a Shared,
        stream: Stream,
        ip: IpAddr,
        shutdown: CancellationToken,
    ) -> Self {
        Session {
            shared,
            io: MaybeTls::Plain(stream),
            inbuf: Vec::with_capacity(READ_SIZE),
            outbuf: Vec::new(),
            lines: LineReader::with_limit(MAX_AUTH_LINE),
            ip,
            tls: None,
            state: State::Authorization { user: None },
            user: None,
            counts: Counts::default(),
            errors: 0,
            failed_logins: 0,
            shutdown,
        }
    }

    pub async fn run(mut self) {
        let _ = self.serve().await;
        let _ = self.flush().await;
        if let State::Transaction(maildrop) = &self.state {
            // QUIT did not happen: nothing is expunged (RFC 1939 6).
            info!(
                "Disconnected: user=<{}>, rip={}: connection closed, top={}/{}, retr={}/{}, del=0/{}, size={}",
                self.user.as_deref().unwrap_or(""),
                self.ip,
                self.counts.top.0,
                self.counts.top.1,
                self.counts.retr.0,
                self.counts.retr.1,
                maildrop.at_login().0,
                maildrop.at_login().1
            );
        }
    }

    fn send(&mut self, response: Response) {
        if !response.is_ok() {
            self.errors += 1;
        }
        response.write_to(&mut self.outbuf);
    }

    async fn flush(&mut self) -> Result<(), End> {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.outbuf);
        self.io
            .send(&out, self.shared.timeout)
            .await
            .map_err(|_| End::Gone)
    }

    /// The next command line (or AUTH response), which must be complete within
    /// `pop3d_timeout` however the client spreads its bytes.
    async fn next_line(&mut self) -> Result<Result<Vec<u8>, ()>, End> {
        let deadline = tokio::time::Instant::now() + self.shared.timeout;
        loop {
            let progress = self.lines.read(&self.inbuf);
            self.inbuf.drain(..progress.consumed.min(self.inbuf.len()));
            if let Some(line) = progress.output {
                return Ok(line.map(|l| l.bytes).map_err(|_| ()));
            }
            self.flush().await?;
            self.inbuf.reserve(READ_SIZE);
            let read = tokio::time::timeout_at(deadline, self.io.read_buf(&mut self.inbuf));
            let result = tokio::select! {
                result = read => result,
                () = self.shutdown.cancelled() => {
                    self.send(Response::err("Server shutting down."));
                    return Err(End::Closed);
                }
            };
            match result {
                Ok(Ok(0)) | Ok(Err(_)) => return Err(End::Gone),
                Ok(Ok(_)) => {}
                Err(_) => {
                    self.send(Response::err("Disconnected for inactivity."));
                    return Err(End::Closed);
                }
            }
        }
    }

    fn plaintext_allowed(&self) -> bool {
        !self.shared.plaintext_disabled || self.tls.is_some() || self.ip.is_loopback()
    }

    async fn serve(&mut self) -> Result<(), End> {
        if self.shared.wrappermode {
            self.start_tls().await?;
        }
        self.send(Response::ok(format!(
            "{} Postern POP3 server ready.",
            self.shared.myhostname
        )));
        loop {
            if self.errors >= ERROR_LIMIT {
                self.send(Response::err("Too many bad commands."));
                return Err(End::Closed);
            }
            if self.failed_logins >= LOGIN_FAILURE_LIMIT {
                warn!(
                    "rip={}: {} failed logins in one session: disconnecting",
                    self.ip, self.failed_logins
                );
                self.send(Response::err("Too many failed logins."));
                return Err(End::Closed);
            }
            let line = match self.next_line().await? {
                Ok(line)
                    if line.len() + 2 <= MAX_LINE
                        || line.to_ascii_uppercase().starts_with(b"AUTH ") =>
                {
                    line
                }
                _ => {
                    self.send(Response::err("Line too long."));
                    continue;
                }
            };
            let command = match pop3_proto::parse(&line) {
                Ok(command) => command,
                Err(e) => {
                    self.send(e.into());
                    continue;
                }
            };
            if let Command::Quit = command {
                return self.quit().await;
            }
            match &mut self.state {
                State::Authorization { .. } => self.authorization(command).await?,
                State::Transaction(_) => self.transaction(command).await?,
            }
            // A client pipelining many RETRs gets each answer sent before the next
            // is made, so the output never holds more than about one message.
            if self.outbuf.len() >= FLUSH_AT {
                self.flush().await?;
            }
        }
    }

    fn capabilities(&self) -> Vec<&'static str> {
        let mut caps = vec!["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"];
        if matches!(self.state, State::Authorization { .. }) {
            if self.plaintext_allowed() {
                caps.push("USER");
                caps.push("SASL PLAIN");
            }
            if self.tls.is_none() {
                caps.push("STLS");
            }
        }
        caps.push("IMPLEMENTATION Postern");
        caps
    }

    fn send_capa(&mut self) {
        self.send(Response::ok("Capability list follows"));
        let mut body = MultiLine::new();
        let mut text = Vec::new();
        for cap in self.capabilities() {
            text.extend_from_slice(cap.as_bytes());
            text.extend_from_slice(b"\r\n");
        }
        body.push(&text, &mut self.outbuf);
        body.finish(&mut self.outbuf);
    }

    async fn authorization(&mut self, command: Command) -> Result<(), End> {
        match command {
            Command::Capa => self.send_capa(),
            Command::Stls if self.tls.is_some() => {
                self.send(Response::err("TLS is already active."))
            }
            Command::Stls => {
                self.send(Response::ok("Begin TLS negotiation now."));
                self.flush().await?;
                if !self.inbuf.is_empty() || self.lines.is_partial() {
                    warn!("rip={}: discarding input pipelined after STLS", self.ip);
                    self.inbuf.clear();
                    self.lines.clear();
                }
                self.start_tls().await?;
            }
            Command::User(name) => {
                if !self.plaintext_allowed() {
                    self.send(Response::err_code(
                        Code::Auth,
                        "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
                    ));
                } else {
                    self.state = State::Authorization { user: Some(name) };
                    self.send(Response::ok(""));
                }
            }
            Command::Pass(password) => {
                let user = match &self.state {
                    State::Authorization { user: Some(user) } => user.clone(),
                    _ => {
                        self.send(Response::err("No username given."));
                        return Ok(());
                    }
                };
                self.login(&user, &password.0, "PLAIN").await;
            }
            Command::Auth {
                mechanism: None, ..
            } => {
                self.send(Response::ok(""));
                let mut body = MultiLine::new();
                body.push(b"PLAIN\r\n", &mut self.outbuf);
                body.finish(&mut self.outbuf);
            }
            Command::Auth {
                mechanism: Some(mechanism),
                initial,
            } => {
                if mechanism != "PLAIN" {
                    self.send(Response::err("Unsupported authentication mechanism."));
                    return Ok(());
                }
                if !self.plaintext_allowed() {
                    self.send(Response::err_code(
                        Code::Auth,
                        "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
                    ));
                    return Ok(());
                }
                let response = match initial {
                    Some(initial) => initial.0,
                    None => {
                        self.outbuf.extend_from_slice(b"+ \r\n");
                        match self.next_line().await? {
                            Ok(line) => String::from_utf8_lossy(&line).into_owned(),
                            Err(()) => {
                                self.send(Response::err("Authentication line too long."));
                                return Ok(());
                            }
                        }
                    }
                };
                if response == "*" {
                    self.send(Response::err("Authentication aborted by client."));
                    return Ok(());
                }
                match smtp_proto::sasl::decode_plain(response.trim().as_bytes()) {
                    Ok(c) => self.login(&c.username, c.password.expose(), "PLAIN").await,
                    Err(_) => self.send(Response::err("Invalid base64 data in continued response")),
                }
            }
            Command::Apop => self.send(Response::err("APOP is not supported.")),
            _ => self.send(Response::err("Unknown command or not logged in.")),
        }
        Ok(())
    }

    async fn login(&mut self, login: &str, password: &str, method: &str) {
        let shared = self.shared;
        let outcome = tokio::task::block_in_place(|| {
            shared
                .accounts
                .log_in(&shared.throttle, self.ip, login, password.as_bytes())
        });
        let (user, maildir) = match outcome {
            Login::Ok { user, maildir } => (user, maildir),
            Login::Refused => {
                self.failed_logins += 1;
                self.send(Response::err_code(
                    Code::SysTemp,
                    "Too many failed logins; try again later.",
                ));
                return;
            }
            Login::Failed { delay } => {
                warn!(
                    "rip={}: {method} authentication failed for {login:?}",
                    self.ip
                );
                self.failed_logins += 1;
                let _ = self.flush().await;
                tokio::time::sleep(delay).await;
                self.send(Response::err_code(Code::Auth, "Authentication failed."));
                self.state = State::Authorization { user: None };
                return;
            }
            Login::NoMailbox { .. } => {
                self.send(Response::err_code(
                    Code::SysPerm,
                    "No mailbox for this user.",
                ));
                return;
            }
        };
        let opened = tokio::task::spawn_blocking(move || Maildrop::open(&maildir)).await;
        match opened {
            Ok(Ok(maildrop)) => {
                info!(
                    "Login: user=<{user}>, method={method}, rip={}{}",
                    self.ip,
                    if self.tls.is_some() { ", TLS" } else { "" }
                );
                self.user = Some(user);
                self.state = State::Transaction(Box::new(maildrop));
                self.send(Response::ok("Logged in."));
            }
            Ok(Err(OpenError::InUse)) => {
                self.send(Response::err_code(
                    Code::InUse,
                    "Mailbox is locked by another POP3 session.",
                ));
            }
            Ok(Err(OpenError::Store(e))) => {
                warn!("user=<{user}>: cannot open the maildrop: {e}");
                self.send(Response::err_code(
                    Code::SysTemp,
                    "Cannot open the mailbox now.",
                ));
            }
            Err(e) => {
                warn!("user=<{user}>: maildrop task: {e}");
                self.send(Response::err_code(
                    Code::SysTemp,
                    "Cannot open the mailbox now.",
                ));
            }
        }
    }

    async fn transaction(&mut self, command: Command) -> Result<(), End> {
        let State::Transaction(maildrop) = &mut self.state else {
            return Ok(());
        };
        let response_and_body: Result<(Response, Option<Vec<u8>>), Response> = match command {
            Command::Capa => {
                self.send_capa();
                return Ok(());
            }
            Command::Stat => Ok((
                Response::ok(format!("{} {}", maildrop.count(), maildrop.total_size())),
                None,
            )),
            Command::List(None) => {
                let mut text = Vec::new();
                for (n, size) in maildrop.list() {
                    text.extend_from_slice(format!("{n} {size}\r\n").as_bytes());
                }
                Ok((
                    Response::ok(format!("{} messages:", maildrop.count())),
                    Some(text),
                ))
            }
            Command::List(Some(n)) => maildrop
                .size(n)
                .map(|size| (Response::ok(format!("{n} {size}")), None))
                .ok_or_else(no_such_message),
            Command::Uidl(None) => {
                let mut text = Vec::new();
                for (n, uidl) in maildrop.uidls() {
                    text.extend_from_slice(format!("{n} {uidl}\r\n").as_bytes());
                }
                Ok((Response::ok(""), Some(text)))
            }
            Command::Uidl(Some(n)) => maildrop
                .uidl(n)
                .map(|uidl| (Response::ok(format!("{n} {uidl}")), None))
                .ok_or_else(no_such_message),
            Command::Dele(n) => {
                if maildrop.delete(n) {
                    Ok((Response::ok("Marked to be deleted."), None))
                } else {
                    Err(no_such_message())
                }
            }
            Command::Rset => {
                maildrop.reset();
                Ok((Response::ok(""), None))
            }
            Command::Noop => Ok((Response::ok(""), None)),
            Command::Retr(n) => return self.retrieve(n, None).await,
            Command::Top(n, lines) => return self.retrieve(n, Some(lines)).await,
            Command::Stls => Err(Response::err("STLS is only allowed before login.")),
            _ => Err(Response::err("Unknown command.")),
        };
        match response_and_body {
            Ok((response, body)) => {
                self.send(response);
                if let Some(text) = body {
                    let mut multi = MultiLine::new();
                    multi.push(&text, &mut self.outbuf);
                    multi.finish(&mut self.outbuf);
                }
            }
            Err(response) => self.send(response),
        }
        Ok(())
    }

    /// RETR (lines None) or TOP.
    async fn retrieve(&mut self, n: u32, lines: Option<u32>) -> Result<(), End> {
        let State::Transaction(maildrop) = &mut self.state else {
            return Ok(());
        };
        let Some(size) = maildrop.size(n) else {
            self.send(no_such_message());
            return Ok(());
        };
        let content = match maildrop.content(n, lines) {
            Ok(content) => content,
            Err(e) => {
                warn!(
                    "user=<{}>: read message {n}: {e}",
                    self.user.as_deref().unwrap_or("")
                );
                self.send(Response::err_code(
                    Code::SysTemp,
                    "Cannot read the message now.",
                ));
                return Ok(());
            }
        };
        let sent = u64::try_from(content.len()).unwrap_or(u64::MAX);
        match lines {
            None => {
                self.counts.retr.0 += 1;
                self.counts.retr.1 += sent;
                self.send(Response::ok(format!("{size} octets")));
            }
            Some(_) => {
                self.counts.top.0 += 1;
                self.counts.top.1 += sent;
                self.send(Response::ok(""));
            }
        }
        let mut multi = MultiLine::new();
        multi.push(&content, &mut self.outbuf);
        multi.finish(&mut self.outbuf);
        Ok(())
    }

    async fn quit(&mut self) -> Result<(), End> {
        let state = std::mem::replace(&mut self.state, State::Authorization { user: None });
        let State::Transaction(maildrop) = state else {
            self.send(Response::ok("Logging out."));
            return Err(End::Closed);
        };
        let (total, size) = maildrop.at_login();
        let result = tokio::task::spawn_blocking(move || maildrop.commit()).await;
        match result {
            Ok(Ok(deleted)) => {
                info!(
                    "Disconnected: Logged out user=<{}>, rip={}, top={}/{}, retr={}/{}, del={deleted}/{total}, size={size}",
                    self.user.as_deref().unwrap_or(""),
                    self.ip,
                    self.counts.top.0,
                    self.counts.top.1,
                    self.counts.retr.0,
                    self.counts.retr.1,
                );
                self.send(Response::ok("Logging out."));
            }
            Ok(Err(e)) => {
                warn!(
                    "user=<{}>: expunge failed: {e}",
                    self.user.as_deref().unwrap_or("")
                );
                self.send(Response::err_code(
                    Code::SysTemp,
                    "Some deleted messages were not removed.",
                ));
            }
            Err(e) => {
                warn!("expunge task: {e}");
                self.send(Response::err_code(
                    Code::SysTemp,
                    "Some deleted messages were not removed.",
                ));
            }
        }
        Err(End::Closed)
    }

    async fn start_tls(&mut self) -> Result<(), End> {
        match self.io.upgrade(&self.shared.tls, self.shared.timeout).await {
            Ok(summary) => {
                self.tls = Some(summary.map_or_else(|| "TLS".to_owned(), |s| s.to_string()));
                Ok(())
            }
            _ => {
                warn!("rip={}: TLS handshake failed", self.ip);
                Err(End::Gone)
            }
        }
    }
}

fn no_such_message() -> Response {
    Response::err("There's no message with that number.")
}
