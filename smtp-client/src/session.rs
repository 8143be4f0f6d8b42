//! One SMTP connection to a remote server: connect, greeting, EHLO (or HELO),
//! STARTTLS, AUTH, and the reply reading every later step shares.
//!
//! Every read and write has a deadline. Errors carry the text Postfix logs
//! (`connect to mx.example.org[192.0.2.1]:25: Connection refused`, `host
//! mx.example.org[192.0.2.1] said: 550 ... (in reply to RCPT TO command)`), so a
//! deferral or bounce tells the admin and the sender what happened.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use smtp_proto::{Capability, EhloReply, Mechanism, Reply, ReplyCode, ReplyParser, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::dns::Target;
use crate::settings::{Settings, Timeouts};

/// The connection, plain or after STARTTLS.
pub enum Stream {
    /// No TLS.
    Plain(TcpStream),
    /// After the TLS handshake.
    Tls(Box<tls::ClientTlsStream<TcpStream>>),
    /// Given away for the handshake, which failed.
    Gone,
}

service::delegate_stream!(Stream { Plain, Tls } else Stream::Gone => gone());

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "connection lost in TLS handshake",
    )
}

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The server answered with an error reply (`reply.code` is 4xx or 5xx).
    Rejected {
        /// The reply.
        reply: Reply,
        /// What it answered (`RCPT TO`), for the text.
        step: &'static str,
    },
    /// The connection broke, timed out, or the server spoke nonsense; the
    /// session is unusable.
    Lost(String),
    /// Something the session itself refuses (TLS required but not offered,
    /// a certificate that does not verify, AUTH impossible).
    Refused {
        /// The enhanced status code.
        status: &'static str,
        /// What happened.
        text: String,
    },
}

/// An open SMTP session, ready for a transaction.
pub struct Session {
    stream: Stream,
    input: Vec<u8>,
    parser: ReplyParser,
    /// Where it is connected.
    pub target: Target,
    /// The EHLO reply, `None` after a HELO fallback.
    pub ehlo: Option<EhloReply>,
    /// The name the server gives in its greeting (first word).
    pub greeting_name: String,
    /// The TLS session, for the log (`TLSv1.3 with cipher ...`).
    pub tls: Option<tls::TlsSummary>,
    /// Transactions completed on this connection.
    pub transactions: u32,
}

/// How to open a session.
pub struct Open<'a> {
    /// The settings.
    pub settings: &'a Settings,
    /// Use STARTTLS when offered (and insist on it when the level says so).
    pub tls: bool,
    /// Credentials for AUTH, if the next hop has some.
    pub credentials: Option<&'a (String, Secret)>,
}

impl Session {
    /// Connects to `target` and runs the greeting, EHLO, STARTTLS and AUTH.
    ///
    /// # Errors
    /// [`Error`] for each way it can fail; `Rejected` with step `greeting` for
    /// a 4xx/5xx greeting.
    pub async fn open(target: Target, how: &Open<'_>) -> Result<Session, Error> {
        let settings = how.settings;
        let timeouts = &settings.timeouts;
        let relay = target.relay();
        let tcp =
            match tokio::time::timeout(timeouts.connect, TcpStream::connect(target.addr)).await {
                Ok(Ok(tcp)) => tcp,
                Ok(Err(e)) => {
                    return Err(Error::Lost(format!("connect to {relay}: {}", io_text(&e))));
                }
                Err(_) => {
                    return Err(Error::Lost(format!(
                        "connect to {relay}: Connection timed out"
                    )));
                }
            };
        let _ = tcp.set_nodelay(true);
        let mut session = Session {
            stream: Stream::Plain(tcp),
            input: Vec::with_capacity(4096),
            parser: ReplyParser::new(),
            target,
            ehlo: None,
            greeting_name: String::new(),
            tls: None,
            transactions: 0,
        };
        let greeting = session
            .read_reply(timeouts.helo, "receiving the initial server greeting")
            .await?;
        if greeting.code != ReplyCode::SERVICE_READY {
            return Err(Error::Rejected {
                reply: greeting,
                step: "greeting",
            });
        }
        session.greeting_name = greeting
            .text
            .split_ascii_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        session.hello(settings).await?;
        let level = settings.tls_level;
        if how.tls
            && level != tls::SecurityLevel::None
            && let Some(config) = &settings.tls_config
        {
            if session.offers(&Capability::StartTls) {
                session
                    .start_tls(config.clone(), level.verifies_certificate(), timeouts)
                    .await?;
                session.hello(settings).await?;
            } else if level.requires_tls() {
                return Err(Error::Refused {
                    status: "4.7.4",
                    text: format!(
                        "TLS is required, but was not offered by host {}",
                        session.target.relay()
                    ),
                });
            }
        }
        if let Some(credentials) = how.credentials {
            session.authenticate(credentials, timeouts).await?;
        }
        Ok(session)
    }

    /// Whether the server offered `capability` in its EHLO reply.
    pub fn offers(&self, capability: &Capability) -> bool {
        self.ehlo.as_ref().is_some_and(|e| e.has(capability))
    }

    /// EHLO, or HELO when EHLO is refused.
    async fn hello(&mut self, settings: &Settings) -> Result<(), Error> {
        let (name, timeouts) = (&settings.helo_name, &settings.timeouts);
        let reply = self
            .command(&format!("EHLO {name}"), timeouts.helo, "EHLO")
            .await;
        match reply {
            Ok(reply) => {
                self.ehlo = EhloReply::from_reply(&reply);
                Ok(())
            }
            Err(Error::Rejected { reply, .. })
                if reply.code.get() >= 500 && reply.code != ReplyCode::TRANSACTION_FAILED =>
            {
                self.ehlo = None;
                self.command(&format!("HELO {name}"), timeouts.helo, "HELO")
                    .await
                    .map(drop)
            }
            Err(e) => Err(e),
        }
    }

    async fn start_tls(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        config_verifies: bool,
        timeouts: &Timeouts,
    ) -> Result<(), Error> {
        self.command("STARTTLS", timeouts.starttls, "STARTTLS")
            .await?;
        if !self.input.is_empty() {
            return Err(Error::Lost(format!(
                "host {} sent data before the TLS handshake",
                self.target.relay()
            )));
        }
        let name = match self.target.addr.ip().to_string() == self.target.name {
            true => ServerName::IpAddress(self.target.addr.ip().into()),
            false => ServerName::try_from(self.target.name.clone()).map_err(|_| {
                Error::Lost(format!(
                    "{} is not a valid TLS server name",
                    self.target.name
                ))
            })?,
        };
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(Error::Lost("STARTTLS on a TLS connection".into()));
        };
        let connector = tokio_rustls::TlsConnector::from(config);
        let relay = self.target.relay();
        let stream =
            match tokio::time::timeout(timeouts.starttls, connector.connect(name, tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    return Err(Error::Refused {
                        status: "4.7.5",
                        text: format!("TLS handshake with {relay} failed: {}", tls_text(&e)),
                    });
                }
                Err(_) => {
                    return Err(Error::Lost(format!("TLS handshake with {relay} timed out")));
                }
            };
        self.tls = tls::describe(stream.get_ref().1);
        if let Some(summary) = &self.tls {
            let trust = if config_verifies {
                "Verified"
            } else {
                "Anonymous"
            };
            tracing::info!("{trust} TLS connection established to {relay}: {summary}");
        }
        self.stream = Stream::Tls(Box::new(stream));
        self.ehlo = None;
        Ok(())
    }

    /// AUTH PLAIN (or LOGIN), only over TLS or to a loopback address.
    async fn authenticate(
        &mut self,
        (user, password): &(String, Secret),
        timeouts: &Timeouts,
    ) -> Result<(), Error> {
        let relay = self.target.relay();
        if self.tls.is_none() && !self.target.addr.ip().is_loopback() {
            return Err(Error::Refused {
                status: "4.7.0",
                text: format!("not sending the password for {relay} over a connection without TLS"),
            });
        }
        let offered = self
            .ehlo
            .as_ref()
            .map(EhloReply::auth_mechanisms)
            .unwrap_or_default();
        let step = "AUTH";
        if offered.contains(&Mechanism::Plain) {
            let response = smtp_proto::sasl::encode_plain(user, password);
            self.command(
                &format!("AUTH PLAIN {}", response.expose()),
                timeouts.helo,
                step,
            )
            .await
            .map_err(auth_failed)?;
        } else if offered.contains(&Mechanism::Login) {
            self.expect_challenge("AUTH LOGIN", timeouts).await?;
            self.expect_challenge(&smtp_proto::base64::encode(user.as_bytes()), timeouts)
                .await?;
            let password = Secret::new(smtp_proto::base64::encode(password.expose().as_bytes()));
            self.command(password.expose(), timeouts.helo, step)
                .await
                .map_err(auth_failed)?;
        } else {
            return Err(Error::Refused {
                status: "4.7.0",
                text: format!("host {relay} offers no SASL mechanism we support (PLAIN, LOGIN)"),
            });
        }
        Ok(())
    }

    async fn expect_challenge(&mut self, line: &str, timeouts: &Timeouts) -> Result<(), Error> {
        self.send(format!("{line}\r\n").as_bytes(), timeouts.helo)
            .await?;
        let reply = self.read_reply(timeouts.helo, "performing SASL").await?;
        if reply.code == ReplyCode::AUTH_CHALLENGE {
            Ok(())
        } else {
            Err(auth_failed(Error::Rejected {
                reply,
                step: "AUTH",
            }))
        }
    }

    /// Sends one command line and reads its reply; a 4xx or 5xx is an error.
    ///
    /// # Errors
    /// `Rejected` for 4xx/5xx, `Lost` for I/O problems.
    pub async fn command(
        &mut self,
        line: &str,
        limit: Duration,
        step: &'static str,
    ) -> Result<Reply, Error> {
        self.send(format!("{line}\r\n").as_bytes(), limit).await?;
        let what = match step {
            "AUTH" => "performing SASL",
            _ => "sending the command",
        };
        let reply = self.read_reply(limit, what).await?;
        check(reply, step)
    }

    /// Writes and flushes `bytes` within `limit`.
    ///
    /// # Errors
    /// `Lost` on a write error or timeout.
    pub async fn send(&mut self, bytes: &[u8], limit: Duration) -> Result<(), Error> {
        let relay = self.target.relay();
        let stream = &mut self.stream;
        match tokio::time::timeout(limit, async {
            stream.write_all(bytes).await?;
            stream.flush().await
        })
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Lost(format!(
                "lost connection with {relay} while sending: {}",
                io_text(&e)
            ))),
            Err(_) => Err(Error::Lost(format!(
                "conversation with {relay} timed out while sending"
            ))),
        }
    }

    /// Reads one complete reply within `limit`; `doing` names the step for
    /// the error text (`receiving the initial server greeting`).
    ///
    /// # Errors
    /// `Lost` on EOF, I/O error, timeout or a malformed reply.
    pub async fn read_reply(&mut self, limit: Duration, doing: &str) -> Result<Reply, Error> {
        let relay = self.target.relay();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if !self.input.is_empty() {
                match self.parser.parse(&self.input) {
                    Ok(progress) => {
                        self.input.drain(..progress.consumed);
                        if let Some(reply) = progress.output {
                            return Ok(reply);
                        }
                    }
                    Err(e) => {
                        return Err(Error::Lost(format!(
                            "malformed reply from {relay} while {doing}: {e}"
                        )));
                    }
                }
            }
            let mut chunk = [0u8; 8192];
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await;
            match read {
                Ok(Ok(0)) => {
                    return Err(Error::Lost(format!(
                        "lost connection with {relay} while {doing}"
                    )));
                }
                Ok(Ok(n)) => self
                    .input
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Ok(Err(e)) => {
                    return Err(Error::Lost(format!(
                        "lost connection with {relay} while {doing}: {}",
                        io_text(&e)
                    )));
                }
                Err(_) => {
                    return Err(Error::Lost(format!(
                        "conversation with {relay} timed out while {doing}"
                    )));
                }
            }
        }
    }

    /// Makes a cached session ready for the next transaction: RSET must
    /// answer 250.
    pub async fn reset(&mut self, limit: Duration) -> bool {
        self.command("RSET", limit, "RSET").await.is_ok()
    }

    /// Says goodbye (QUIT), ignoring what happens.
    pub async fn quit(mut self, limit: Duration) {
        let _ = self.command("QUIT", limit, "QUIT").await;
        let _ = tokio::time::timeout(limit, self.stream.shutdown()).await;
    }
}

/// A 2xx or 3xx reply is fine; anything else is [`Error::Rejected`].
pub fn check(reply: Reply, step: &'static str) -> Result<Reply, Error> {
    if reply.code.get() < 400 {
        Ok(reply)
    } else {
        Err(Error::Rejected { reply, step })
    }
}

fn auth_failed(error: Error) -> Error {
    match error {
        Error::Rejected { reply, .. } => Error::Refused {
            status: "4.7.0",
            text: format!(
                "SASL authentication failed; server said: {}",
                reply.summary()
            ),
        },
        other => other,
    }
}

/// An I/O error the way the C library words it (`Connection refused`).
fn io_text(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "Connection refused".into(),
        io::ErrorKind::ConnectionReset => "Connection reset by peer".into(),
        io::ErrorKind::TimedOut => "Connection timed out".into(),
        _ => error.to_string(),
    }
}

/// The TLS library's reason, without the `io::Error` wrapping.
fn tls_text(error: &io::Error) -> String {
    match error.get_ref() {
        Some(inner) => inner.to_string(),
        None => error.to_string(),
    }
}
