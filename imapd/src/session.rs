//! One IMAP session: not authenticated, authenticated, selected, logout
//! (RFC 9051 3).

use std::net::IpAddr;
use std::time::Duration;

use accounts::Login;
use imap_proto::{Code, Command, CommandBody, Response, Status};
use imap_proto::{Event, Framer};
use service::{CancellationToken, Deadline, Stream};
use tls::MaybeTls;
use tokio::io::AsyncReadExt;
use tracing::{info, warn};

use crate::account::Account;
use crate::selected::{Selected, SyncMode};

/// What every session of this process shares.
pub struct Shared {
    pub accounts: accounts::Directory,
    pub throttle: accounts::AuthThrottle,
    pub tls: tls::TlsAcceptor,
    pub wrappermode: bool,
    pub plaintext_disabled: bool,
    pub timeout: Duration,
    pub max_literal: u32,
    pub max_line: usize,
    pub special_use: Vec<String>,
    pub myhostname: String,
}

impl Shared {
    /// The largest command, literals included.
    fn max_command(&self) -> u32 {
        let line = u32::try_from(self.max_line).unwrap_or(u32::MAX);
        self.max_literal.saturating_add(line)
    }

    /// The largest command before login, literals included: what LOGIN or
    /// AUTHENTICATE can need. Anyone may connect, so nobody gets to make the server
    /// hold a literal of `imapd_max_literal` before proving who they are.
    fn max_command_before_login(&self) -> u32 {
        u32::try_from(self.max_line)
            .unwrap_or(u32::MAX)
            .min(self.max_command())
    }
}

/// How much is read from the socket at a time.
const READ_SIZE: usize = 16 * 1024;
/// Bad commands in a row before the server hangs up.
const ERROR_LIMIT: u32 = 20;
/// Failed (or throttled) logins in one session before the server hangs up: someone
/// guessing passwords has to connect again, which costs more than another command.
const LOGIN_FAILURE_LIMIT: u32 = 5;
/// The slowest rate, in bytes per second, at which a command's bytes (literals
/// above all) earn time beyond `imapd_timeout` (as smtpd's `smtpd_min_data_rate`).
const MIN_DATA_RATE: u64 = 500;
/// Output buffered before it is written, so a long FETCH is sent as it is made.
pub const FLUSH_AT: usize = 256 * 1024;

/// Why the session ended.
pub enum End {
    /// The server said BYE (or the client LOGOUT).
    Closed,
    /// The client went away or stopped reading.
    Gone,
}

/// The session's state (RFC 9051 3).
enum State {
    NotAuthenticated,
    Authenticated,
    Selected(Box<Selected>),
}

/// What ENABLE switched on.
#[derive(Default, Clone, Copy)]
pub struct Enabled {
    /// IMAP4rev2 semantics: ESEARCH replies, no RECENT.
    pub rev2: bool,
    /// CONDSTORE (RFC 7162): MODSEQ in FETCH responses.
    pub condstore: bool,
}

pub struct Session<'a> {
    shared: &'a Shared,
    io: MaybeTls<Stream>,
    inbuf: Vec<u8>,
    framer: Framer,
    pub outbuf: Vec<u8>,
    ip: IpAddr,
    tls: bool,
    state: State,
    account: Option<Account>,
    enabled: Enabled,
    errors: u32,
    failed_logins: u32,
    bytes_in: u64,
    bytes_out: u64,
    shutdown: CancellationToken,
}

impl<'a> Session<'a> {
    pub fn new(
        shared: &'a Shared,
        stream: Stream,
        ip: IpAddr,
        shutdown: CancellationToken,
    ) -> Self {
        let mut framer = Framer::new(shared.max_command());
        framer.set_max_command(shared.max_command_before_login());
        Session {
            shared,
            io: MaybeTls::Plain(stream),
            inbuf: Vec::with_capacity(READ_SIZE),
            framer,
            outbuf: Vec::new(),
            ip,
            tls: false,
            state: State::NotAuthenticated,
            account: None,
            enabled: Enabled::default(),
            errors: 0,
            failed_logins: 0,
            bytes_in: 0,
            bytes_out: 0,
            shutdown,
        }
    }

    pub async fn run(mut self) {
        let end = self.serve().await;
        let _ = self.flush().await;
        if let Some(account) = &self.account {
            let how = match end {
                Err(End::Gone) => "Disconnected",
                _ => "Logged out",
            };
            info!(
                "imap({}): {how} in={} out={}",
                account.user, self.bytes_in, self.bytes_out
            );
        }
    }

    /// Queues a status response.
    pub fn send(&mut self, response: Response) {
        match response.status {
            Status::Bad => self.errors += 1,
            _ if response.tag.is_some() => self.errors = 0,
            _ => {}
        }
        response.write_to(&mut self.outbuf);
    }

    fn tagged(&mut self, tag: &str, status: Status, text: &str) {
        self.send(Response::tagged(tag, status, text));
    }

    async fn flush(&mut self) -> Result<(), End> {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.outbuf);
        self.bytes_out += out.len() as u64;
        self.io
            .send(&out, self.shared.timeout)
            .await
            .map_err(|_| End::Gone)
    }

    /// Flushes when enough output has piled up.
    pub async fn flush_if_large(&mut self) -> Result<(), End> {
        if self.outbuf.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Reads more input into the framer, by `until` (else BYE); how many bytes.
    async fn fill(&mut self, until: tokio::time::Instant) -> Result<usize, End> {
        self.flush().await?;
        self.inbuf.clear();
        self.inbuf.reserve(READ_SIZE);
        let read = tokio::time::timeout_at(until, self.io.read_buf(&mut self.inbuf));
        let result = tokio::select! {
            result = read => result,
            () = self.shutdown.cancelled() => {
                self.send(Response::untagged(Status::Bye, "Server shutting down."));
                return Err(End::Closed);
            }
        };
        match result {
            Ok(Ok(0)) | Ok(Err(_)) => Err(End::Gone),
            Ok(Ok(n)) => {
                self.bytes_in += n as u64;
                self.framer.push(&self.inbuf);
                Ok(n)
            }
            Err(_) => {
                self.send(Response::untagged(
                    Status::Bye,
                    "Disconnected for inactivity.",
                ));
                Err(End::Closed)
            }
        }
    }

    /// The next framing event, reading as needed. It must come within
    /// `imapd_timeout`, plus what the bytes earn at [`MIN_DATA_RATE`], however the
    /// client spreads them.
    async fn next_event(&mut self) -> Result<Event, End> {
        let mut deadline = Deadline::new(self.shared.timeout, MIN_DATA_RATE);
        loop {
            if let Some(event) = self.framer.next() {
                return Ok(event);
            }
            let n = self.fill(deadline.at()).await?;
            deadline.credit(n);
        }
    }

    /// The next raw line (AUTHENTICATE responses), due within `timeout`; `None` if
    /// too long.
    pub async fn next_line(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, End> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(line) = self.framer.next_line() {
                return Ok(line.ok());
            }
            self.fill(deadline).await?;
        }
    }

    fn plaintext_allowed(&self) -> bool {
        !self.shared.plaintext_disabled || self.tls || self.ip.is_loopback()
    }

    fn capabilities(&self) -> Vec<String> {
        let mut caps: Vec<String> = [
            "IMAP4rev1",
            "IMAP4rev2",
            "BINARY",
            "SASL-IR",
            "LITERAL+",
            "ID",
            "ENABLE",
            "IDLE",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        match self.state {
            State::NotAuthenticated => {
                if !self.tls && !self.shared.wrappermode {
                    caps.push("STARTTLS".into());
                }
                if self.plaintext_allowed() {
                    caps.push("AUTH=PLAIN".into());
                } else {
                    caps.push("LOGINDISABLED".into());
                }
            }
            _ => caps.extend(
                [
                    "NAMESPACE",
                    "UIDPLUS",
                    "MOVE",
                    "UNSELECT",
                    "CHILDREN",
                    "SPECIAL-USE",
                    "LIST-EXTENDED",
                    "LIST-STATUS",
                    "ESEARCH",
                    "CONDSTORE",
                    "STATUS=SIZE",
                ]
                .into_iter()
                .map(String::from),
            ),
        }
        caps.push(format!("APPENDLIMIT={}", self.shared.max_literal));
        caps
    }

    async fn serve(&mut self) -> Result<(), End> {
        if self.shared.wrappermode {
            self.start_tls().await?;
        }
        let caps = self.capabilities();
        self.send(
            Response::untagged(
                Status::Ok,
                format!("{} Postern IMAP server ready.", self.shared.myhostname),
            )
            .with_code(Code::Capability(caps)),
        );
        loop {
            if self.errors >= ERROR_LIMIT {
                self.send(Response::untagged(Status::Bye, "Too many bad commands."));
                return Err(End::Closed);
            }
            let bytes = match self.next_event().await? {
                Event::Command(bytes) => bytes,
                Event::Continue => {
                    self.outbuf
                        .extend_from_slice(b"+ Ready for literal data\r\n");
                    continue;
                }
                Event::TooBig { tag } => {
                    let text = "Command or literal too large.";
                    match tag {
                        Some(tag) => self
                            .send(Response::tagged(&tag, Status::No, text).with_code(Code::TooBig)),
                        None => self.send(Response::untagged(Status::Bad, text)),
                    }
                    continue;
                }
                Event::Fatal => {
                    self.send(Response::untagged(
                        Status::Bye,
                        "Literal too large; closing the connection.",
                    ));
                    return Err(End::Closed);
                }
            };
            let command = match imap_proto::parse_command(&bytes) {
                Ok(command) => command,
                Err(e) => {
                    match e.tag {
                        Some(tag) => self.send(Response::tagged(&tag, Status::Bad, e.text)),
                        None => self.send(Response::untagged(Status::Bad, e.text)),
                    }
                    continue;
                }
            };
            if self.dispatch(command).await? {
                return Ok(());
            }
        }
    }

    /// Runs one command; `Ok(true)` after LOGOUT.
    async fn dispatch(&mut self, command: Command) -> Result<bool, End> {
        let Command { tag, body } = command;
        let tag = tag.as_str();
        match body {
            CommandBody::Capability => {
                let caps = self.capabilities();
                self.outbuf.extend_from_slice(b"* CAPABILITY ");
                self.outbuf.extend_from_slice(caps.join(" ").as_bytes());
                self.outbuf.extend_from_slice(b"\r\n");
                self.tagged(tag, Status::Ok, "CAPABILITY completed");
            }
            CommandBody::Noop | CommandBody::Check => {
                self.sync(SyncMode::Full).await?;
                self.tagged(tag, Status::Ok, "NOOP completed");
            }
            CommandBody::Logout => {
                self.send(Response::untagged(Status::Bye, "Logging out."));
                self.tagged(tag, Status::Ok, "LOGOUT completed");
                return Ok(true);
            }
            CommandBody::Id(_) => {
                self.outbuf
                    .extend_from_slice(b"* ID (\"name\" \"Postern\" \"vendor\" \"Postern\")\r\n");
                self.tagged(tag, Status::Ok, "ID completed");
            }
            CommandBody::StartTls => self.starttls(tag).await?,
            CommandBody::Login { user, password } => {
                self.login_command(tag, &user, &password).await?
            }
            CommandBody::Authenticate { mechanism, initial } => {
                self.authenticate(tag, &mechanism, initial).await?;
            }
            body if matches!(self.state, State::NotAuthenticated) => {
                let _ = body;
                self.tagged(tag, Status::Bad, "Log in first.");
            }
            CommandBody::Enable(caps) => {
                let mut enabled = Vec::new();
                for cap in caps {
                    if cap.eq_ignore_ascii_case("IMAP4rev2") && !self.enabled.rev2 {
                        self.enabled.rev2 = true;
                        enabled.push("IMAP4rev2");
                    }
                    if cap.eq_ignore_ascii_case("CONDSTORE") && !self.enabled.condstore {
                        self.enabled.condstore = true;
                        enabled.push("CONDSTORE");
                    }
                }
                if !enabled.is_empty() {
                    self.outbuf.extend_from_slice(b"* ENABLED ");
                    self.outbuf.extend_from_slice(enabled.join(" ").as_bytes());
                    self.outbuf.extend_from_slice(b"\r\n");
                }
                self.tagged(tag, Status::Ok, "ENABLE completed");
            }
            CommandBody::Select {
                mailbox,
                read_only,
                condstore,
            } => {
                self.enabled.condstore |= condstore;
                self.select(tag, &mailbox, read_only).await?;
            }
            CommandBody::Idle => self.idle(tag).await?,
            CommandBody::Close | CommandBody::Unselect => {
                let closing = std::mem::replace(&mut self.state, State::Authenticated);
                match closing {
                    State::Selected(mut selected) => {
                        if matches!(body, CommandBody::Close) && !selected.read_only {
                            // CLOSE expunges silently.
                            let _ = tokio::task::block_in_place(|| selected.expunge_silently());
                        }
                        self.tagged(tag, Status::Ok, "Mailbox closed.");
                    }
                    other => {
                        self.state = other;
                        self.tagged(tag, Status::Bad, "No mailbox selected.");
                    }
                }
            }
            body => self.authenticated(tag, body).await?,
        }
        Ok(false)
    }
}

/// Commands of the authenticated and selected states.
impl Session<'_> {
    async fn authenticated(&mut self, tag: &str, body: CommandBody) -> Result<(), End> {
        // Answer from the folder as it is now, not as it was at the last command.
        self.sync(SyncMode::NoExpunge).await?;
        let Some(account) = self.account.as_mut() else {
            self.tagged(tag, Status::Bad, "Log in first.");
            return Ok(());
        };
        let selected = match &mut self.state {
            State::Selected(selected) => Some(selected.as_mut()),
            _ => None,
        };
        let out = &mut self.outbuf;
        let (response, mode) = match body {
            CommandBody::Create(name) => (block(|| account.create(tag, &name)), SyncMode::Full),
            CommandBody::Delete(name) => {
                let selected_name = selected.as_ref().map(|s| s.name.clone());
                (
                    block(|| account.delete(tag, &name, selected_name.as_deref())),
                    SyncMode::Full,
                )
            }
            CommandBody::Rename { from, to } => {
                (block(|| account.rename(tag, &from, &to)), SyncMode::Full)
            }
            CommandBody::Subscribe(name) => (
                block(|| account.subscribe(tag, &name, true)),
                SyncMode::Full,
            ),
            CommandBody::Unsubscribe(name) => (
                block(|| account.subscribe(tag, &name, false)),
                SyncMode::Full,
            ),
            CommandBody::List {
                reference,
                patterns,
                select,
                returns,
            } => (
                block(|| {
                    account.list(
                        tag,
                        &reference,
                        &patterns,
                        &select,
                        &returns,
                        false,
                        selected.as_deref(),
                        out,
                    )
                }),
                SyncMode::Full,
            ),
            CommandBody::Lsub { reference, pattern } => (
                block(|| {
                    account.list(
                        tag,
                        &reference,
                        &[pattern],
                        &[],
                        &[],
                        true,
                        selected.as_deref(),
                        out,
                    )
                }),
                SyncMode::Full,
            ),
            CommandBody::Namespace => {
                out.extend_from_slice(b"* NAMESPACE ((\"\" \".\")) NIL NIL\r\n");
                (
                    Response::tagged(tag, Status::Ok, "NAMESPACE completed"),
                    SyncMode::Full,
                )
            }
            CommandBody::Status { mailbox, items } => (
                block(|| account.status(tag, &mailbox, &items, selected.as_deref(), out)),
                SyncMode::Full,
            ),
            CommandBody::Append { message, .. }
                if message.len()
                    > usize::try_from(self.shared.max_literal).unwrap_or(usize::MAX) =>
            {
                (
                    Response::tagged(tag, Status::No, "Message too large.").with_code(Code::TooBig),
                    SyncMode::Full,
                )
            }
            CommandBody::Append {
                mailbox,
                flags,
                date,
                message,
            } => (
                block(|| account.append(tag, &mailbox, &flags, date, &message)),
                SyncMode::Full,
            ),
            body => {
                let Some(selected) = selected else {
                    self.tagged(tag, Status::Bad, "No mailbox selected.");
                    return Ok(());
                };
                let enabled = self.enabled;
                match body {
                    CommandBody::Expunge { uids } => (
                        block(|| selected.expunge(tag, uids.as_ref(), out)),
                        SyncMode::Full,
                    ),
                    CommandBody::Search {
                        uid,
                        charset,
                        criteria,
                        returns,
                    } => (
                        block(|| {
                            selected.search(
                                tag,
                                uid,
                                charset.as_deref(),
                                &criteria,
                                returns.as_deref(),
                                enabled,
                                out,
                            )
                        }),
                        if uid {
                            SyncMode::Full
                        } else {
                            SyncMode::NoExpunge
                        },
                    ),
                    CommandBody::Fetch {
                        uid,
                        set,
                        items,
                        changed_since,
                    } => {
                        let messages = match selected.resolve(&set, uid) {
                            Ok(messages) => messages,
                            Err(r) => {
                                self.send(r.retag(tag));
                                return Ok(());
                            }
                        };
                        self.enabled.condstore |= changed_since.is_some();
                        return self.fetch(tag, uid, &messages, &items, changed_since).await;
                    }
                    CommandBody::Store {
                        uid,
                        set,
                        kind,
                        silent,
                        flags,
                        unchanged_since,
                    } => (
                        block(|| {
                            let change = crate::selected::FlagChange {
                                kind,
                                silent,
                                flags: &flags,
                                unchanged_since,
                            };
                            selected.store(tag, &set, uid, &change, enabled, out)
                        }),
                        if uid {
                            SyncMode::Full
                        } else {
                            SyncMode::NoExpunge
                        },
                    ),
                    CommandBody::Copy { uid, set, mailbox } => (
                        block(|| selected.copy(tag, account, &set, uid, &mailbox, false, out)),
                        SyncMode::Full,
                    ),
                    CommandBody::Move { uid, set, mailbox } => (
                        block(|| selected.copy(tag, account, &set, uid, &mailbox, true, out)),
                        SyncMode::Full,
                    ),
                    _ => (
                        Response::tagged(tag, Status::Bad, "Command not valid in this state."),
                        SyncMode::Full,
                    ),
                }
            }
        };
        self.finish(response, mode).await
    }

    /// FETCH, in batches so that the output is sent as it is made.
    async fn fetch(
        &mut self,
        tag: &str,
        uid: bool,
        messages: &[usize],
        items: &[imap_proto::FetchAttr],
        changed_since: Option<u64>,
    ) -> Result<(), End> {
        let condstore = self.enabled.condstore;
        let mut response = Response::tagged(tag, Status::Ok, "FETCH completed");
        let mut rest = messages;
        while !rest.is_empty() {
            let State::Selected(selected) = &mut self.state else {
                break;
            };
            let out = &mut self.outbuf;
            let batch = rest.get(..FETCH_BATCH).unwrap_or(rest);
            match block(|| selected.fetch(batch, uid, items, changed_since, condstore, out)) {
                Ok(done) => rest = rest.get(done..).unwrap_or_default(),
                Err(r) => {
                    response = r.retag(tag);
                    break;
                }
            }
            self.flush_if_large().await?;
        }
        if let State::Selected(selected) = &mut self.state {
            block(|| selected.flush_metadata());
        }
        let mode = if uid {
            SyncMode::Full
        } else {
            SyncMode::NoExpunge
        };
        self.finish(response, mode).await
    }

    /// Reports changes to the selected mailbox, then the command's tagged response.
    async fn finish(&mut self, response: Response, mode: SyncMode) -> Result<(), End> {
        self.sync(mode).await?;
        self.send(response);
        Ok(())
    }

    /// Untagged updates for the selected mailbox: what other sessions and deliveries
    /// changed since the last report.
    pub async fn sync(&mut self, mode: SyncMode) -> Result<(), End> {
        let enabled = self.enabled;
        if let State::Selected(selected) = &mut self.state {
            let out = &mut self.outbuf;
            if let Err(e) = block(|| selected.sync(mode, enabled, out)) {
                warn!(
                    "imap({}): cannot rescan {}: {e}",
                    selected.user, selected.name
                );
            }
        }
        self.flush_if_large().await
    }

    async fn select(&mut self, tag: &str, name: &str, read_only: bool) -> Result<(), End> {
        let was_selected = matches!(self.state, State::Selected(_));
        // A failed SELECT leaves no mailbox selected (RFC 9051 6.3.2).
        self.state = State::Authenticated;
        if was_selected {
            self.send(
                Response::untagged(Status::Ok, "Previous mailbox closed.").with_code(Code::Closed),
            );
        }
        let Some(account) = self.account.as_mut() else {
            self.tagged(tag, Status::Bad, "Log in first.");
            return Ok(());
        };
        let rev2 = self.enabled.rev2;
        let out = &mut self.outbuf;
        match block(|| Selected::open(account, name, read_only, rev2, out)) {
            Ok(selected) => {
                self.state = State::Selected(Box::new(selected));
                let (code, verb) = if read_only {
                    (Code::ReadOnly, "EXAMINE")
                } else {
                    (Code::ReadWrite, "SELECT")
                };
                self.send(
                    Response::tagged(tag, Status::Ok, format!("{verb} completed")).with_code(code),
                );
            }
            Err(response) => self.send(response.retag(tag)),
        }
        Ok(())
    }

    /// While idling, the selected folder's view keeps only the folder's
    /// descriptor: thousands of idle sessions fit in one process.
    fn release_descriptors(&mut self) {
        if let State::Selected(selected) = &mut self.state {
            selected.release_descriptors();
        }
    }

    async fn idle(&mut self, tag: &str) -> Result<(), End> {
        let watch = match &self.state {
            State::Selected(selected) => crate::idle::Watch::new(selected.path()).ok(),
            _ => None,
        };
        self.sync(SyncMode::Full).await?;
        self.release_descriptors();
        self.outbuf.extend_from_slice(b"+ idling\r\n");
        self.flush().await?;
        let deadline = tokio::time::Instant::now() + self.shared.timeout;
        let mut watch = watch;
        let line = loop {
            if let Some(line) = self.framer.next_line() {
                break line.ok();
            }
            let changed = async {
                match watch.as_mut() {
                    Some(watch) => watch.changed().await,
                    None => std::future::pending().await,
                }
            };
            let woken = tokio::select! {
                result = self.fill(deadline) => {
                    result?;
                    false
                }
                () = changed => true,
                // Changes inotify cannot see (another host on shared storage).
                () = tokio::time::sleep(crate::idle::RESCAN) => true,
                () = tokio::time::sleep_until(deadline) => {
                    self.send(Response::untagged(Status::Bye, "IDLE for too long."));
                    return Err(End::Closed);
                }
            };
            if woken {
                self.sync(SyncMode::Full).await?;
                self.release_descriptors();
                self.flush().await?;
            }
        };
        match line {
            Some(line) if line.eq_ignore_ascii_case(b"DONE") => {
                self.tagged(tag, Status::Ok, "IDLE terminated");
            }
            _ => self.tagged(tag, Status::Bad, "Expected DONE."),
        }
        Ok(())
    }
}

/// Messages rendered between checks whether the output should be sent.
const FETCH_BATCH: usize = 200;

/// Runs blocking store work on this worker thread, letting the runtime move other
/// sessions elsewhere.
fn block<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Not authenticated: STARTTLS, LOGIN, AUTHENTICATE.
impl Session<'_> {
    async fn start_tls(&mut self) -> Result<(), End> {
        match self.io.upgrade(&self.shared.tls, self.shared.timeout).await {
            Ok(_) => {
                self.tls = true;
                Ok(())
            }
            _ => {
                warn!("imap-login: rip={}: TLS handshake failed", self.ip);
                Err(End::Gone)
            }
        }
    }

    async fn starttls(&mut self, tag: &str) -> Result<(), End> {
        if self.tls || !matches!(self.state, State::NotAuthenticated) {
            self.tagged(
                tag,
                Status::Bad,
                "TLS is already active or not allowed now.",
            );
            return Ok(());
        }
        self.tagged(tag, Status::Ok, "Begin TLS negotiation now.");
        self.flush().await?;
        if self.framer.reset() > 0 {
            warn!("rip={}: discarding input pipelined after STARTTLS", self.ip);
        }
        self.start_tls().await
    }

    /// Whether a login may be tried now; if not, the reason is sent.
    fn may_log_in(&mut self, tag: &str) -> bool {
        if !matches!(self.state, State::NotAuthenticated) {
            self.tagged(tag, Status::Bad, "Already logged in.");
            return false;
        }
        if !self.plaintext_allowed() {
            self.send(
                Response::tagged(
                    tag,
                    Status::No,
                    "Plaintext authentication disallowed on non-secure connections.",
                )
                .with_code(Code::PrivacyRequired),
            );
            return false;
        }
        true
    }

    async fn login_command(&mut self, tag: &str, user: &str, password: &str) -> Result<(), End> {
        if !self.may_log_in(tag) {
            return Ok(());
        }
        self.login(tag, user, password, "LOGIN").await
    }

    async fn authenticate(
        &mut self,
        tag: &str,
        mechanism: &str,
        initial: Option<String>,
    ) -> Result<(), End> {
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            self.tagged(tag, Status::No, "Unsupported authentication mechanism.");
            return Ok(());
        }
        if !self.may_log_in(tag) {
            return Ok(());
        }
        let response = match initial {
            Some(initial) => initial.into_bytes(),
            None => {
                self.outbuf.extend_from_slice(b"+ \r\n");
                match self.next_line(self.shared.timeout).await? {
                    Some(line) => line,
                    None => {
                        self.tagged(tag, Status::Bad, "Authentication line too long.");
                        return Ok(());
                    }
                }
            }
        };
        match smtp_proto::sasl::decode_plain(&response) {
            Ok(c) => {
                self.login(tag, &c.username, c.password.expose(), "PLAIN")
                    .await
            }
            Err(smtp_proto::sasl::SaslError::Cancelled) => {
                self.tagged(tag, Status::Bad, "Authentication aborted by client.");
                Ok(())
            }
            Err(smtp_proto::sasl::SaslError::InvalidBase64(_)) => {
                self.tagged(tag, Status::Bad, "Invalid base64 data.");
                Ok(())
            }
            Err(e) => {
                warn!(
                    "imap-login: rip={}: PLAIN authentication failed: {e}",
                    self.ip
                );
                self.send(
                    Response::tagged(tag, Status::No, "Authentication failed.")
                        .with_code(Code::AuthenticationFailed),
                );
                self.count_failed_login()
            }
        }
    }

    /// Counts a failed or refused login; at [`LOGIN_FAILURE_LIMIT`] the session ends
    /// with BYE.
    fn count_failed_login(&mut self) -> Result<(), End> {
        self.failed_logins += 1;
        if self.failed_logins < LOGIN_FAILURE_LIMIT {
            return Ok(());
        }
        warn!(
            "imap-login: rip={}: {} failed logins in one session: disconnecting",
            self.ip, self.failed_logins
        );
        self.send(Response::untagged(Status::Bye, "Too many failed logins."));
        Err(End::Closed)
    }

    async fn login(
        &mut self,
        tag: &str,
        login: &str,
        password: &str,
        method: &str,
    ) -> Result<(), End> {
        let shared = self.shared;
        let outcome = block(|| {
            shared
                .accounts
                .log_in(&shared.throttle, self.ip, login, password.as_bytes())
        });
        let (user, maildir) = match outcome {
            Login::Ok { user, maildir } => (user, maildir),
            Login::Refused => {
                self.send(
                    Response::tagged(tag, Status::No, "Too many failed logins; try again later.")
                        .with_code(Code::Unavailable),
                );
                return self.count_failed_login();
            }
            Login::Failed { delay } => {
                warn!(
                    "imap-login: rip={}: {method} authentication failed for {login:?}",
                    self.ip
                );
                self.flush().await?;
                tokio::time::sleep(delay).await;
                self.send(
                    Response::tagged(tag, Status::No, "Authentication failed.")
                        .with_code(Code::AuthenticationFailed),
                );
                return self.count_failed_login();
            }
            Login::NoMailbox { .. } => {
                self.send(
                    Response::tagged(tag, Status::No, "No mailbox for this user.")
                        .with_code(Code::AuthorizationFailed),
                );
                return Ok(());
            }
        };
        let special_use = self.shared.special_use.clone();
        match block(|| Account::open(&user, &maildir, &special_use)) {
            Ok(account) => {
                info!(
                    "imap-login: Login: user=<{user}>, method={method}, rip={}{}",
                    self.ip,
                    if self.tls { ", TLS" } else { "" }
                );
                self.account = Some(account);
                self.state = State::Authenticated;
                self.framer.set_max_command(self.shared.max_command());
                let caps = self.capabilities();
                self.send(
                    Response::tagged(tag, Status::Ok, "Logged in")
                        .with_code(Code::Capability(caps)),
                );
            }
            Err(e) => {
                warn!("imap({user}): cannot open the mailbox: {e}");
                self.send(
                    Response::tagged(tag, Status::No, "Cannot open the mailbox now.")
                        .with_code(Code::Unavailable),
                );
            }
        }
        Ok(())
    }
}
