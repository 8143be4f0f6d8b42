//! A plain SMTP client for tests that read like transcripts:
//! `smtp.send("MAIL FROM:<a@b>").expect(250)`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};

/// One server reply: the code and every line's text (after the code and separator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpReply {
    /// The three-digit code.
    pub code: u16,
    /// The text of each line.
    pub lines: Vec<String>,
}

impl SmtpReply {
    /// All lines joined with newlines.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// A client connection.
pub struct SmtpClient {
    reader: BufReader<TcpStream>,
}

impl SmtpClient {
    /// Connects to 127.0.0.1:`port` and reads the greeting (must be 220).
    pub fn connect(port: u16) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port)).context("connect")?;
        Self::greet(stream)
    }

    /// Connects from the local address `from` (e.g. 127.0.0.2, outside mynetworks).
    pub fn connect_from(from: &str, port: u16) -> anyhow::Result<Self> {
        let socket = nix_socket(from)?;
        socket
            .connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
            .context("connect")?;
        Self::greet(socket.into())
    }

    fn greet(stream: TcpStream) -> anyhow::Result<Self> {
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut client = SmtpClient {
            reader: BufReader::new(stream),
        };
        client.read_reply()?.expect_code(220)?;
        Ok(client)
    }

    /// Writes raw bytes (for pipelining and hostile input).
    pub fn write_raw(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.reader.get_mut().write_all(bytes)?;
        Ok(())
    }

    /// Sends one command line (CRLF added) and reads the reply.
    pub fn send(&mut self, line: &str) -> anyhow::Result<SmtpReply> {
        self.write_raw(format!("{line}\r\n").as_bytes())?;
        self.read_reply()
    }

    /// Reads one (possibly multi-line) reply.
    pub fn read_reply(&mut self) -> anyhow::Result<SmtpReply> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("connection closed while waiting for a reply (got {lines:?})");
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .with_context(|| format!("not a reply line: {line:?}"))?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_owned());
            if !more {
                return Ok(SmtpReply { code, lines });
            }
        }
    }

    /// True when the server has closed the connection (reads EOF).
    pub fn is_closed(&mut self) -> bool {
        let mut line = String::new();
        matches!(self.reader.read_line(&mut line), Ok(0))
    }

    /// Sends a whole message with DATA (dot-stuffing it) and returns the final reply.
    pub fn data(&mut self, message: &str) -> anyhow::Result<SmtpReply> {
        self.send("DATA")?.expect_code(354)?;
        let mut out = String::new();
        for line in message.split("\r\n") {
            if line.starts_with('.') {
                out.push('.');
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        if message.ends_with("\r\n") {
            // split left an empty last element: it added one CRLF too many
            out.truncate(out.len() - 2);
        }
        out.push_str(".\r\n");
        self.write_raw(out.as_bytes())?;
        self.read_reply()
    }
}

impl SmtpReply {
    /// Fails unless the code is `code`.
    pub fn expect_code(self, code: u16) -> anyhow::Result<SmtpReply> {
        if self.code != code {
            bail!("expected {code}, got {} {}", self.code, self.text());
        }
        Ok(self)
    }
}

fn nix_socket(from: &str) -> anyhow::Result<socket2::Socket> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let addr: std::net::IpAddr = from.parse()?;
    socket.bind(&SocketAddr::new(addr, 0).into())?;
    Ok(socket)
}
