//! One SMTP session: the command loop, DATA and BDAT, STARTTLS and AUTH.
//!
//! Replies are gathered in an output buffer and sent just before the session would
//! wait for more input, so a pipelined batch gets its replies in order and in one write
//! (RFC 2920). A command line must arrive within `smtpd_timeout`, however the client
//! spreads its bytes; message content gets `smtpd_timeout` plus what it earns by coming
//! at `smtpd_min_data_rate` (a [`Deadline`]). The input buffer holds at most one read
//! beyond what is being parsed.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use accounts::{AuthOutcome, AuthThrottle, Directory, Verdict};
use maillog::{Client, CommandCounts, Rejection, Sasl};
use service::{CancellationToken, Deadline};
use smtp_proto::command::LineReader;
use smtp_proto::reply::Checked;
use smtp_proto::{
    AuthExchange, AuthStep, BdatReader, Capability, Command, DataError, DataOptions, DataReader,
    ForwardPath, Mechanism, RcptTo, Reply, ReversePath, parse_command,
};
use spool::{DsnNotify, DsnRet, Envelope, Recipient, Spool};
use tokio::io::AsyncReadExt;
use tracing::{debug, error, warn};

use crate::anvil::{Anvil, Limits, Refusal, Slot};
use crate::headers::Completion;
use crate::io::Io;
use crate::nudge::Nudger;
use crate::policy::{self, Facts};
use crate::queue::{Incoming, QueueError};
use crate::received::Trace;
use crate::settings::{Settings, TlsLevel};

/// How much is read from the socket at a time.
const READ_SIZE: usize = 16 * 1024;

/// What every session of this process shares.
pub struct Shared {
    /// The configuration.
    pub settings: Settings,
    /// Users, domains and aliases (reloaded when their files change).
    pub accounts: Directory,
    /// Failed-login throttling across sessions.
    pub throttle: AuthThrottle,
    /// TLS, when configured.
    pub tls: Option<tls::TlsAcceptor>,
    /// The queue.
    pub spool: Arc<Spool>,
    /// Sessions per client address: open ones, and opened per time unit.
    pub anvil: Anvil,
    /// The master.cf service name, for log lines.
    pub service: String,
    /// Tells qmgr about queued mail.
    pub nudger: Nudger,
}

/// Why a session ended.
#[derive(Debug)]
enum End {
    /// QUIT, or we hung up after a 421.
    Closed,
    /// The client went away.
    Eof,
    /// `smtpd_timeout` passed.
    Timeout,
    /// The daemon is stopping.
    Shutdown,
    /// Reading or writing failed.
    Io(std::io::Error),
}

/// A message transaction, from MAIL to the end of DATA or BDAT LAST.
struct Transaction {
    sender: ReversePath,
    params: smtp_proto::command::MailParams,
    recipients: Vec<Recipient>,
    /// The queue file and reader while BDAT chunks arrive.
    bdat: Option<(Option<Incoming>, BdatReader)>,
}

/// One client's session.
pub struct Session<'a> {
    shared: &'a Shared,
    io: Io,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    lines: LineReader,
    client: Client,
    in_mynetworks: bool,
    loopback: bool,
    helo: Option<String>,
    esmtp: bool,
    tls: Option<String>,
    auth: Option<(String, &'static str)>,
    tx: Option<Transaction>,
    errors: u32,
    counts: CommandCounts,
    /// The last command received (for "timeout after DATA" lines).
    last_verb: &'static str,
    /// When the command or message content being received must be complete.
    deadline: Deadline,
    shutdown: CancellationToken,
}

impl<'a> Session<'a> {
    /// A session for a client at `ip` on `io`.
    pub fn new(shared: &'a Shared, io: Io, ip: IpAddr, shutdown: CancellationToken) -> Self {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        let loopback = ip.is_loopback();
        Session {
            shared,
            io,
            inbuf: Vec::with_capacity(READ_SIZE),
            outbuf: Vec::new(),
            lines: LineReader::new(),
            client: Client {
                // XXX: no reverse DNS lookup yet; the loopback address is the one name
                // known without asking DNS.
                name: if is_localhost(ip) {
                    "localhost"
                } else {
                    "unknown"
                }
                .to_owned(),
                addr: ip,
            },
            in_mynetworks: shared
                .settings
                .mynetworks
                .iter()
                .any(|net| net.contains(&ip)),
            loopback,
            helo: None,
            esmtp: false,
            tls: None,
            auth: None,
            tx: None,
            errors: 0,
            counts: CommandCounts::default(),
            last_verb: "connect",
            deadline: Deadline::new(shared.settings.timeout, shared.settings.min_data_rate),
            shutdown,
        }
    }

    fn settings(&self) -> &'a Settings {
        &self.shared.settings
    }

    /// Runs the session to its end.
    pub async fn run(mut self) {
        maillog::connect(&self.client);
        let end = self.serve().await;
        if let Err(End::Io(e)) = &end {
            debug!("{}: {e}", self.client);
        }
        let stage = self.last_verb.to_ascii_uppercase();
        if let Some(tx) = self.tx.take() {
            discard(tx).await;
        }
        let _ = self.flush().await;
        match end {
            Err(End::Timeout) => warn!("timeout after {stage} from {}", self.client),
            Err(End::Eof) => debug!("lost connection from {}", self.client),
            _ => {}
        }
        maillog::disconnect(&self.client, &self.counts);
    }

    async fn serve(&mut self) -> Result<(), End> {
        let _slot = match self.take_connection_slot() {
            Ok(slot) => slot,
            Err(refusal) => {
                let (what, n) = match refusal {
                    Refusal::Concurrency(n) => ("concurrency", n),
                    Refusal::Rate(n) => ("rate", n),
                };
                warn!(
                    "Connection {what} limit exceeded: {n} from {} for service {}",
                    self.client, self.shared.service
                );
                self.send(Reply::too_many_connections(&self.settings().myhostname));
                return Err(End::Closed);
            }
        };
        if self.settings().wrappermode {
            self.start_tls().await?;
        }
        self.send(Reply::greeting(&self.settings().banner));
        loop {
            let line = self.next_line().await?;
            let line = match line {
                Ok(line) => line,
                Err(_) => {
                    self.respond(Reply::line_too_long()).await?;
                    continue;
                }
            };
            let command = match parse_command(&line.bytes) {
                Ok(command) => command,
                Err(e) => {
                    if let Some(verb) = e.verb() {
                        self.counts.count(verb.counter_name());
                    } else {
                        self.counts.count("unknown");
                    }
                    self.respond(e.reply()).await?;
                    continue;
                }
            };
            self.last_verb = command.verb().counter_name();
            self.counts.count(self.last_verb);
            self.dispatch(command).await?;
        }
    }

    fn take_connection_slot(&self) -> Result<Slot<'a>, Refusal> {
        let settings = self.settings();
        let limits = Limits {
            count: settings.connection_limit,
            rate: settings.connection_rate_limit,
            time_unit: settings.rate_time_unit,
        };
        self.shared
            .anvil
            .connect(self.client.addr, &limits, self.in_mynetworks)
    }

    async fn dispatch(&mut self, command: Command) -> Result<(), End> {
        match command {
            Command::Ehlo(name) => self.hello(name.to_string(), true).await,
            Command::Helo(name) => self.hello(name.to_string(), false).await,
            Command::Mail(mail) => self.mail(mail).await,
            Command::Rcpt(rcpt) => self.rcpt(rcpt).await,
            Command::Data => self.data().await,
            Command::Bdat { size, last } => self.bdat(size, last).await,
            Command::Rset => {
                if let Some(tx) = self.tx.take() {
                    discard(tx).await;
                }
                self.respond(Reply::ok()).await
            }
            Command::Noop => self.respond(Reply::ok()).await,
            Command::Quit => {
                self.send(Reply::closing());
                Err(End::Closed)
            }
            Command::Vrfy(_) => self.respond(Reply::vrfy_cannot()).await,
            Command::Expn(_) => self.respond(Reply::expn_disabled()).await,
            Command::Help(_) => self.respond(Reply::help()).await,
            Command::StartTls => self.starttls().await,
            Command::Auth {
                mechanism,
                initial_response,
            } => self.authenticate(mechanism, initial_response).await,
        }
    }

    // ---- input and output -------------------------------------------------------

    /// Queues a reply without counting it as an error.
    fn send(&mut self, reply: Reply) {
        reply.write_to(&mut self.outbuf);
    }

    /// Queues a reply; a refusal counts against the error limits (a delay past the
    /// soft limit, hanging up at the hard one).
    async fn respond(&mut self, reply: Reply) -> Result<(), End> {
        let refusal = !reply.code.is_positive() && !reply.code.is_intermediate();
        if refusal {
            self.errors += 1;
            let settings = self.settings();
            if self.errors >= settings.hard_error_limit {
                warn!("too many errors from {}", self.client);
                self.send(reply);
                self.send(Reply::too_many_errors(&settings.myhostname));
                return Err(End::Closed);
            }
            if self.errors > settings.soft_error_limit {
                self.flush().await?;
                tokio::time::sleep(settings.error_sleep_time).await;
            }
        }
        self.send(reply);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), End> {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        let timeout = self.settings().timeout;
        let out = std::mem::take(&mut self.outbuf);
        match self.io.send(&out, timeout).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(End::Timeout),
            Err(e) => Err(End::Io(e)),
        }
    }

    /// Sends pending replies, then reads more input before the deadline. In command
    /// mode (`idle`) a shutdown ends the wait with a 421; otherwise (message content)
    /// what was read earns time at `smtpd_min_data_rate`.
    async fn fill(&mut self, idle: bool) -> Result<(), End> {
        self.flush().await?;
        self.inbuf.reserve(READ_SIZE);
        let before = self.inbuf.len();
        let read = tokio::time::timeout_at(self.deadline.at(), self.io.read_buf(&mut self.inbuf));
        let result = if idle {
            tokio::select! {
                result = read => result,
                () = self.shutdown.cancelled() => {
                    self.send(Reply::shutting_down(&self.settings().myhostname));
                    return Err(End::Shutdown);
                }
            }
        } else {
            read.await
        };
        match result {
            Ok(Ok(0)) => Err(End::Eof),
            Ok(Ok(_)) => {
                if !idle {
                    self.deadline
                        .credit(self.inbuf.len().saturating_sub(before));
                }
                Ok(())
            }
            Ok(Err(e)) => Err(End::Io(e)),
            Err(_) => {
                self.send(Reply::timeout(&self.settings().myhostname));
                Err(End::Timeout)
            }
        }
    }

    /// The next command line (or AUTH response), which must be complete within
    /// `smtpd_timeout` however the client spreads its bytes.
    async fn next_line(
        &mut self,
    ) -> Result<Result<smtp_proto::command::Line, smtp_proto::command::LineTooLong>, End> {
        self.deadline.restart();
        loop {
            let progress = self.lines.read(&self.inbuf);
            self.inbuf.drain(..progress.consumed.min(self.inbuf.len()));
            if let Some(line) = progress.output {
                return Ok(line);
            }
            self.fill(true).await?;
        }
    }

    // ---- commands ---------------------------------------------------------------

    async fn hello(&mut self, name: String, esmtp: bool) -> Result<(), End> {
        if let Some(tx) = self.tx.take() {
            discard(tx).await;
        }
        self.helo = Some(name);
        self.esmtp = esmtp;
        let host = &self.settings().myhostname;
        if !esmtp {
            self.send(Reply::helo(host));
            return Ok(());
        }
        let settings = self.settings();
        let mut caps = vec![Capability::Pipelining];
        if let Some(limit) = settings.message_size_limit {
            caps.push(Capability::Size(limit));
        } else {
            caps.push(Capability::Size(0));
        }
        if self.shared.tls.is_some() && self.tls.is_none() {
            caps.push(Capability::StartTls);
        }
        if self.auth_allowed() {
            caps.push(Capability::Auth(vec![Mechanism::Plain, Mechanism::Login]));
        }
        caps.extend([
            Capability::EnhancedStatusCodes,
            Capability::EightBitMime,
            Capability::Dsn,
            Capability::SmtpUtf8,
            Capability::Chunking,
        ]);
        self.send(Reply::ehlo(host, &caps));
        Ok(())
    }

    /// AUTH is offered when enabled, and only over TLS or from loopback, and (with
    /// `smtpd_tls_security_level = encrypt`) only after STARTTLS.
    fn auth_allowed(&self) -> bool {
        let settings = self.settings();
        settings.sasl_enabled
            && (self.tls.is_some() || (self.loopback && settings.tls_level != TlsLevel::Encrypt))
    }

    fn protocol(&self) -> &'static str {
        match (self.esmtp, self.tls.is_some(), self.auth.is_some()) {
            (false, _, _) => "SMTP",
            (true, false, false) => "ESMTP",
            (true, true, false) => "ESMTPS",
            (true, false, true) => "ESMTPA",
            (true, true, true) => "ESMTPSA",
        }
    }

    fn facts<'f>(
        &'f self,
        accounts: &'f accounts::Accounts,
        client: &'f str,
        recipient: Option<&'f ForwardPath>,
        sender: Option<&'f str>,
    ) -> Facts<'f> {
        Facts {
            client,
            in_mynetworks: self.in_mynetworks,
            sasl_user: self.auth.as_ref().map(|(user, _)| user.as_str()),
            helo: self.helo.as_deref(),
            sender,
            recipient,
            accounts,
        }
    }

    async fn reject(&mut self, stage: &str, reply: Reply, to: Option<&str>) -> Result<(), End> {
        let from = self.tx.as_ref().map(|tx| tx.sender.to_string());
        maillog::reject(
            &Rejection {
                id: None,
                stage,
                client: &self.client,
                from: from.as_deref(),
                to,
                proto: if self.esmtp { "ESMTP" } else { "SMTP" },
                helo: self.helo.as_deref(),
            },
            &reply.summary(),
        );
        self.respond(reply).await
    }

    async fn mail(&mut self, mail: smtp_proto::MailFrom) -> Result<(), End> {
        if self.helo.is_none() {
            return self
                .respond(Reply::bad_sequence("send HELO/EHLO first"))
                .await;
        }
        if self.tx.is_some() {
            return self
                .respond(Reply::bad_sequence("nested MAIL command"))
                .await;
        }
        let settings = self.settings();
        if settings.tls_level == TlsLevel::Encrypt && self.tls.is_none() {
            return self.respond(Reply::encryption_required()).await;
        }
        if let (Some(size), Some(limit)) = (mail.params.size, settings.message_size_limit)
            && size > limit
        {
            return self.reject("MAIL", Reply::too_big(), None).await;
        }
        if mail.params.body == Some(smtp_proto::command::Body::BinaryMime) {
            return self
                .respond(Reply::invalid_parameter(
                    "BODY",
                    "BINARYMIME is not offered",
                ))
                .await;
        }
        let sender = mail.path.to_string();
        let accounts = self.shared.accounts.current();
        let client = self.client.to_string();
        let refusal = {
            let facts = self.facts(&accounts, &client, None, Some(&sender));
            policy::check(&settings.client_restrictions, Checked::Client, &facts)
                .or_else(|| policy::check(&settings.helo_restrictions, Checked::Helo, &facts))
                .or_else(|| policy::check(&settings.sender_restrictions, Checked::Sender, &facts))
        };
        if let Some(reply) = refusal {
            self.tx = Some(Transaction {
                sender: mail.path,
                params: mail.params,
                recipients: Vec::new(),
                bdat: None,
            });
            let result = self.reject("MAIL", reply, None).await;
            self.tx = None;
            return result;
        }
        self.tx = Some(Transaction {
            sender: mail.path,
            params: mail.params,
            recipients: Vec::new(),
            bdat: None,
        });
        self.respond(Reply::sender_ok()).await
    }

    async fn rcpt(&mut self, rcpt: RcptTo) -> Result<(), End> {
        let settings = self.settings();
        let Some(tx) = self.tx.as_ref() else {
            return self.respond(Reply::bad_sequence("need MAIL command")).await;
        };
        if tx.bdat.is_some() {
            return self.respond(Reply::bad_sequence("BDAT in progress")).await;
        }
        if tx.recipients.len() >= settings.recipient_limit {
            return self.respond(Reply::too_many_recipients()).await;
        }
        if !rcpt.path.is_ascii() && !tx.params.smtputf8 {
            return self.respond(Reply::smtputf8_required()).await;
        }
        let sender = tx.sender.to_string();
        let to = rcpt.path.to_string();
        let accounts = self.shared.accounts.current();
        let client = self.client.to_string();
        let refusal = {
            let facts = self.facts(&accounts, &client, Some(&rcpt.path), Some(&sender));
            policy::check(&settings.relay_restrictions, Checked::Recipient, &facts)
                .or_else(|| {
                    policy::check(&settings.recipient_restrictions, Checked::Recipient, &facts)
                })
                .or_else(|| {
                    settings
                        .reject_unlisted_recipient
                        .then(|| policy::check_unlisted(&facts))
                        .flatten()
                })
        };
        if let Some(reply) = refusal {
            return self.reject("RCPT", reply, Some(&to)).await;
        }
        let notify = match rcpt.params.notify {
            None => DsnNotify::default(),
            Some(smtp_proto::command::Notify::Never) => DsnNotify {
                never: true,
                ..DsnNotify::default()
            },
            Some(smtp_proto::command::Notify::On(on)) => DsnNotify {
                never: false,
                success: on.success,
                failure: on.failure,
                delay: on.delay,
            },
        };
        let orcpt = rcpt
            .params
            .orcpt
            .map(|o| format!("{};{}", o.addr_type, o.address));
        let address = match &rcpt.path {
            ForwardPath::Postmaster => "postmaster".to_owned(),
            ForwardPath::Mailbox(mailbox) => mailbox.to_string(),
        };
        if let Some(tx) = self.tx.as_mut() {
            tx.recipients.push(Recipient {
                address,
                orcpt,
                notify,
            });
        }
        self.respond(Reply::recipient_ok()).await
    }

    /// Checks that a transaction can take content; answers and returns false if not.
    async fn ready_for_content(&mut self) -> Result<bool, End> {
        match &self.tx {
            None => {
                self.respond(Reply::bad_sequence("need MAIL command"))
                    .await?;
                Ok(false)
            }
            Some(tx) if tx.recipients.is_empty() => {
                self.respond(Reply::no_valid_recipients()).await?;
                Ok(false)
            }
            Some(_) => Ok(true),
        }
    }

    fn envelope(&self, tx: &Transaction) -> Envelope {
        Envelope {
            sender: match &tx.sender {
                ReversePath::Null => String::new(),
                ReversePath::Mailbox(mailbox) => mailbox.to_string(),
            },
            recipients: tx.recipients.clone(),
            arrival: SystemTime::now(),
            client: Some(spool::Client {
                name: self.client.name.clone(),
                addr: self.client.addr.to_string(),
                helo: self.helo.clone(),
                protocol: self.protocol().to_owned(),
            }),
            auth_user: self.auth.as_ref().map(|(user, _)| user.clone()),
            dsn_envid: tx.params.envid.clone(),
            dsn_ret: tx.params.ret.map(|ret| match ret {
                smtp_proto::command::Ret::Full => DsnRet::Full,
                smtp_proto::command::Ret::Headers => DsnRet::Headers,
            }),
            body_8bit: tx.params.body == Some(smtp_proto::command::Body::EightBitMime),
            smtputf8: tx.params.smtputf8,
        }
    }

    fn data_options(&self) -> DataOptions {
        DataOptions {
            max_size: self.settings().message_size_limit,
            bare_newline: self.settings().bare_newline,
        }
    }

    /// Starts the queue file of the transaction with our headers (the file itself is
    /// created with the first block written); None without a transaction.
    fn open_queue_file(&mut self) -> Option<Incoming> {
        let tx = self.tx.as_ref()?;
        let envelope = self.envelope(tx);
        let single = (tx.recipients.len() == 1)
            .then(|| tx.recipients.first().map(|r| r.address.clone()))
            .flatten();
        let mut incoming = Incoming::new(self.shared.spool.clone(), envelope);
        let sasl = self.auth.as_ref().map(|(user, method)| Sasl {
            method,
            username: user,
        });
        maillog::client(incoming.id(), &self.client, sasl.as_ref());
        let settings = self.settings();
        let id = incoming.id().to_string();
        let received = Trace {
            helo: self.helo.as_deref(),
            client_name: &self.client.name,
            client_addr: self.client.addr,
            tls: self.tls.as_deref(),
            myhostname: &settings.myhostname,
            mail_name: &settings.mail_name,
            protocol: self.protocol(),
            id: &id,
            recipient: single.as_deref(),
            time: SystemTime::now(),
        }
        .header();
        // Submissions (authenticated or from our own networks) get the headers a
        // mail client may have left out.
        let complete = (self.auth.is_some() || self.in_mynetworks).then(|| Completion {
            date: service::clock::rfc5322(SystemTime::now()),
            message_id: format!("<{id}@{}>", settings.myhostname),
        });
        incoming.begin(&received, settings.header_size_limit, complete);
        Some(incoming)
    }

    async fn data(&mut self) -> Result<(), End> {
        if !self.ready_for_content().await? {
            return Ok(());
        }
        if self.tx.as_ref().is_some_and(|tx| tx.bdat.is_some()) {
            return self.respond(Reply::bad_sequence("BDAT in progress")).await;
        }
        let Some(mut incoming) = self.open_queue_file() else {
            self.tx = None;
            return Ok(());
        };
        self.send(Reply::start_data());
        self.deadline.restart();
        let mut reader = DataReader::new(self.data_options());
        let mut chunk = Vec::new();
        let result = loop {
            if !self.inbuf.is_empty() {
                chunk.clear();
                let progress = reader.feed(&self.inbuf, &mut chunk);
                self.inbuf.drain(..progress.consumed.min(self.inbuf.len()));
                incoming.push(&chunk).await;
                if let Some(result) = progress.output {
                    break result;
                }
            }
            if let Err(end) = self.fill(false).await {
                incoming.abort().await;
                self.tx = None;
                return Err(end);
            }
        };
        self.finish_message(incoming, result, "END-OF-MESSAGE")
            .await
    }

    async fn bdat(&mut self, size: u64, last: bool) -> Result<(), End> {
        let ready = match &self.tx {
            Some(tx) => !tx.recipients.is_empty(),
            None => false,
        };
        if !ready {
            // The chunk must still be read, or its bytes would be taken as commands.
            let mut sink = BdatReader::new(DataOptions::default(), true);
            sink.begin_chunk(size, last);
            self.consume_chunk(&mut sink, None).await?;
            return self.ready_for_content().await.map(|_| ());
        }
        let (mut incoming, mut reader) = match self.tx.as_mut().and_then(|tx| tx.bdat.take()) {
            Some(state) => state,
            None => match self.open_queue_file() {
                Some(incoming) => (Some(incoming), BdatReader::new(self.data_options(), false)),
                None => {
                    // No transaction: read the chunk away, and send nothing
                    // more for this command.
                    self.tx = None;
                    let mut sink = BdatReader::new(DataOptions::default(), true);
                    sink.begin_chunk(size, last);
                    self.consume_chunk(&mut sink, None).await?;
                    return Ok(());
                }
            },
        };
        reader.begin_chunk(size, last);
        let end = match self.consume_chunk(&mut reader, incoming.as_mut()).await {
            Ok(end) => end,
            Err(end) => {
                if let Some(incoming) = incoming {
                    incoming.abort().await;
                }
                self.tx = None;
                return Err(end);
            }
        };
        match (end, incoming) {
            (Some(end), Some(incoming)) if end.last => {
                self.finish_message(incoming, end.result, "END-OF-MESSAGE")
                    .await
            }
            (Some(end), None) if end.last => {
                // The queue file could not be created; that was answered already.
                self.tx = None;
                match end.result {
                    Ok(_) => self.respond(Reply::local_error()).await,
                    Err(e) => self.respond(e.reply()).await,
                }
            }
            (end, incoming) => {
                let reply = match end.map(|e| e.result) {
                    Some(Err(e)) => e.reply(),
                    _ => Reply::chunk_ok(size),
                };
                if let Some(tx) = self.tx.as_mut() {
                    tx.bdat = Some((incoming, reader));
                }
                self.respond(reply).await
            }
        }
    }

    /// Reads one BDAT chunk through `reader` into `incoming` (or nowhere).
    async fn consume_chunk(
        &mut self,
        reader: &mut BdatReader,
        mut incoming: Option<&mut Incoming>,
    ) -> Result<Option<smtp_proto::data::ChunkEnd>, End> {
        self.deadline.restart();
        let mut chunk = Vec::new();
        loop {
            chunk.clear();
            let progress = reader.feed(&self.inbuf, &mut chunk);
            self.inbuf.drain(..progress.consumed.min(self.inbuf.len()));
            if let Some(incoming) = incoming.as_deref_mut() {
                incoming.push(&chunk).await;
            }
            if progress.output.is_some() {
                return Ok(progress.output);
            }
            self.fill(false).await?;
        }
    }

    async fn finish_message(
        &mut self,
        incoming: Incoming,
        result: Result<u64, DataError>,
        stage: &str,
    ) -> Result<(), End> {
        let id = *incoming.id();
        let tx = self.tx.take();
        let (sender, nrcpt) = tx.as_ref().map_or((String::new(), 0), |tx| {
            (self.envelope(tx).sender, tx.recipients.len())
        });
        let size = match result {
            Ok(size) => size,
            Err(e) => {
                incoming.abort().await;
                let reply = e.reply();
                maillog::reject(
                    &Rejection {
                        id: Some(&id),
                        stage,
                        client: &self.client,
                        from: Some(&sender),
                        to: None,
                        proto: "ESMTP",
                        helo: self.helo.as_deref(),
                    },
                    &reply.summary(),
                );
                return self.respond(reply).await;
            }
        };
        match incoming.commit().await {
            Ok((id, seen)) => {
                if let Some(message_id) = &seen.message_id {
                    maillog::message_id(&id, message_id);
                }
                maillog::queued(&id, &sender, size, nrcpt);
                self.shared.nudger.nudge();
                self.respond(Reply::queued(id)).await
            }
            Err(e) => {
                error!("{id}: queue file write error: {:#}", e.error());
                self.respond(queue_reply(&e)).await
            }
        }
    }

    async fn starttls(&mut self) -> Result<(), End> {
        if self.tls.is_some() {
            return self
                .respond(Reply::bad_sequence("TLS already active"))
                .await;
        }
        if self.shared.tls.is_none() {
            return self.respond(Reply::tls_not_available()).await;
        }
        self.send(Reply::ready_for_tls());
        self.flush().await?;
        // Anything the client sent after STARTTLS in plain text must not be taken as
        // coming through TLS (command injection, CVE-2011-0411).
        if !self.inbuf.is_empty() || self.lines.is_partial() {
            warn!("{}: discarding input pipelined after STARTTLS", self.client);
            self.inbuf.clear();
            self.lines.clear();
        }
        self.start_tls().await?;
        // RFC 3207: the session starts over.
        self.helo = None;
        self.esmtp = false;
        self.auth = None;
        if let Some(tx) = self.tx.take() {
            discard(tx).await;
        }
        Ok(())
    }

    async fn start_tls(&mut self) -> Result<(), End> {
        let Some(acceptor) = self.shared.tls.clone() else {
            return Err(End::Closed);
        };
        let timeout = self.settings().timeout;
        match self.io.upgrade(&acceptor, timeout).await {
            Ok(summary) => {
                let summary = summary.map(|s| s.to_string());
                if let Some(summary) = &summary {
                    tracing::info!(
                        "Anonymous TLS connection established from {}: {summary}",
                        self.client
                    );
                }
                self.tls = summary.or_else(|| Some("TLS".to_owned()));
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                warn!("TLS handshake timed out with {}", self.client);
                Err(End::Timeout)
            }
            Err(e) => {
                warn!("TLS handshake failed with {}: {e}", self.client);
                Err(End::Closed)
            }
        }
    }

    async fn authenticate(
        &mut self,
        mechanism: Mechanism,
        initial: Option<smtp_proto::Secret>,
    ) -> Result<(), End> {
        if !self.settings().sasl_enabled {
            return self.respond(Reply::not_implemented()).await;
        }
        if !self.auth_allowed() {
            return self.respond(Reply::encryption_required()).await;
        }
        if self.auth.is_some() {
            return self
                .respond(Reply::bad_sequence("already authenticated"))
                .await;
        }
        if self.tx.is_some() {
            return self
                .respond(Reply::bad_sequence("MAIL transaction in progress"))
                .await;
        }
        if let Verdict::Refuse { .. } = self.shared.throttle.check(self.client.addr, None) {
            return self.respond(Reply::auth_throttled()).await;
        }
        let method = match mechanism {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::Other(_) => "OTHER",
        };
        let mut step = AuthExchange::start(&mechanism, initial.as_ref());
        let credentials = loop {
            match step {
                Ok(AuthStep::Done(credentials)) => break credentials,
                Ok(AuthStep::Challenge(exchange)) => {
                    self.send(exchange.challenge());
                    let line = match self.next_line().await? {
                        Ok(line) => line,
                        Err(_) => return self.respond(Reply::auth_line_too_long()).await,
                    };
                    step = exchange.respond(&line.bytes);
                }
                Err(e) => return self.respond(e.reply()).await,
            }
        };
        if let Verdict::Refuse { .. } = self
            .shared
            .throttle
            .check(self.client.addr, Some(&credentials.username))
        {
            return self.respond(Reply::auth_throttled()).await;
        }
        let accounts = self.shared.accounts.current();
        let username = credentials.username.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            accounts.authenticate(
                &credentials.username,
                credentials.password.expose().as_bytes(),
            )
        })
        .await
        .unwrap_or(AuthOutcome::Failed);
        match outcome {
            AuthOutcome::Ok { user } => {
                self.shared
                    .throttle
                    .succeeded(self.client.addr, Some(&user));
                self.auth = Some((user, method));
                self.respond(Reply::auth_ok()).await
            }
            AuthOutcome::Failed => {
                warn!(
                    "{}: SASL {method} authentication failed for {username:?}",
                    self.client
                );
                let delay = self
                    .shared
                    .throttle
                    .failed(self.client.addr, Some(&username));
                self.flush().await?;
                tokio::time::sleep(delay.min(Duration::from_secs(15))).await;
                self.respond(Reply::auth_failed()).await
            }
        }
    }
}

fn is_localhost(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => v6 == std::net::Ipv6Addr::LOCALHOST,
    }
}

fn queue_reply(e: &QueueError) -> Reply {
    match e {
        QueueError::Full(_) => Reply::storage_full(),
        QueueError::Local(_) => Reply::local_error(),
    }
}

/// Drops a transaction, removing its unfinished queue file.
async fn discard(tx: Transaction) {
    if let Some((Some(incoming), _)) = tx.bdat {
        incoming.abort().await;
    }
}
