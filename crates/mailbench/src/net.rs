//! net - a TCP connection, optionally TLS, with one reused input buffer.
//!
//! Every protocol in this tool reads the same way: look at the buffered input
//! ([`Connection::data`]), take what is complete ([`Connection::consume`]), and read
//! more ([`Connection::fill`]) only when nothing complete is buffered. The buffer is
//! allocated once per connection and compacted before each read, so a session does not
//! allocate per message.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use tls::rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long one read, write, connect or handshake may take before the session fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(300);

/// Free space ensured before each read.
const READ_CHUNK: usize = 64 * 1024;

/// What a client needs for TLS to one server.
#[derive(Clone)]
pub struct Tls {
    connector: tls::TlsConnector,
    name: ServerName<'static>,
}

impl Tls {
    /// A TLS client that accepts any certificate (a benchmark measures a server, it
    /// does not authenticate it), sending the host part of `server` as SNI.
    ///
    /// # Errors
    ///
    /// When rustls cannot be set up or the host is not a valid name or address.
    pub fn for_server(server: &str) -> anyhow::Result<Tls> {
        let config = tls::client_config(tls::SecurityLevel::May)
            .context("TLS client configuration")?
            .ok_or_else(|| anyhow!("TLS client configuration missing"))?;
        let host = host_of(server);
        let name = ServerName::try_from(host.to_owned())
            .with_context(|| format!("{host:?} is not a host name or address for TLS"))?;
        Ok(Tls {
            connector: tls::TlsConnector::from(Arc::clone(&config)),
            name,
        })
    }
}

/// The host part of `HOST:PORT` or `[V6]:PORT`.
pub fn host_of(server: &str) -> &str {
    let host = match server.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => server,
    };
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tls::ClientTlsStream<TcpStream>>),
    /// During a STARTTLS handshake, or after a failed one.
    Gone,
}

/// One connection and its input buffer.
pub struct Connection {
    stream: Stream,
    /// Received bytes; `buf[start..]` is not yet consumed.
    buf: Vec<u8>,
    start: usize,
    /// Bound on each read; `None` waits forever (the sink waits for its clients).
    timeout: Option<Duration>,
    /// All bytes read so far.
    received: u64,
}

impl Connection {
    /// Connects to `server` (`HOST:PORT`), then does the TLS handshake if `tls` is
    /// given (implicit TLS, as on ports 465, 993 and 995).
    ///
    /// # Errors
    ///
    /// Connection refused, timeouts, TLS failures; the message names the server.
    pub async fn connect(server: &str, tls: Option<&Tls>) -> anyhow::Result<Connection> {
        let stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(server))
            .await
            .map_err(|_| anyhow!("connect to {server}: timed out"))?
            .with_context(|| format!("connect to {server}"))?;
        stream.set_nodelay(true).context("TCP_NODELAY")?;
        let mut conn = Connection::new(stream, Some(IO_TIMEOUT));
        if let Some(tls) = tls {
            conn.start_tls(tls).await?;
        }
        Ok(conn)
    }

    /// Wraps an accepted or connected stream.
    pub fn new(stream: TcpStream, timeout: Option<Duration>) -> Connection {
        Connection {
            stream: Stream::Plain(stream),
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
            timeout,
            received: 0,
        }
    }

    /// Runs the TLS handshake on the plain connection (implicit TLS, or after the
    /// server accepted STARTTLS/STLS).
    ///
    /// # Errors
    ///
    /// When already in TLS, when the server sent more after its go-ahead (those bytes
    /// would be plaintext posing as protected), or when the handshake fails.
    pub async fn start_tls(&mut self, tls: &Tls) -> anyhow::Result<()> {
        if !self.data().is_empty() {
            bail!("server sent data after accepting STARTTLS");
        }
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            bail!("TLS is already active");
        };
        let handshake = tls.connector.connect(tls.name.clone(), tcp);
        let stream = tokio::time::timeout(IO_TIMEOUT, handshake)
            .await
            .map_err(|_| anyhow!("TLS handshake: timed out"))?
            .context("TLS handshake")?;
        self.stream = Stream::Tls(Box::new(stream));
        Ok(())
    }

    /// The bytes received and not yet consumed.
    pub fn data(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Marks the first `n` bytes of [`Connection::data`] as used.
    pub fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.buf.len());
    }

    /// All bytes read from the peer so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Reads more input after what is buffered.
    ///
    /// # Errors
    ///
    /// End of stream ("connection closed by peer"), I/O errors, the timeout.
    pub async fn fill(&mut self) -> anyhow::Result<()> {
        if !self.fill_or_eof().await? {
            bail!("connection closed by peer");
        }
        Ok(())
    }

    /// Like [`Connection::fill`], but the end of the stream is `Ok(false)`, for a
    /// server that accepts a client hanging up between commands.
    ///
    /// # Errors
    ///
    /// I/O errors and the timeout.
    pub async fn fill_or_eof(&mut self) -> anyhow::Result<bool> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        let timeout = self.timeout;
        let read = async {
            match &mut self.stream {
                Stream::Plain(s) => s.read_buf(&mut self.buf).await,
                Stream::Tls(s) => s.read_buf(&mut self.buf).await,
                Stream::Gone => Err(std::io::Error::other("connection lost in TLS handshake")),
            }
        };
        let n = match timeout {
            Some(limit) => tokio::time::timeout(limit, read)
                .await
                .map_err(|_| anyhow!("read: timed out after {limit:?}"))?,
            None => read.await,
        }
        .context("read")?;
        self.received = self
            .received
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        Ok(n > 0)
    }

    /// Writes and flushes all of `bytes`.
    ///
    /// # Errors
    ///
    /// I/O errors and the timeout.
    pub async fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let timeout = self.timeout;
        let write = async {
            match &mut self.stream {
                Stream::Plain(s) => s.write_all(bytes).await,
                Stream::Tls(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Stream::Gone => Err(std::io::Error::other("connection lost in TLS handshake")),
            }
        };
        match timeout {
            Some(limit) => tokio::time::timeout(limit, write)
                .await
                .map_err(|_| anyhow!("write: timed out after {limit:?}"))?,
            None => write.await,
        }
        .context("write")
    }

    /// Finds the end of the next line in the buffered input: the index of its LF.
    pub fn line_end(&self) -> Option<usize> {
        self.data().iter().position(|&b| b == b'\n')
    }

    /// Reads one line (without CRLF), lossily as text, reading more as needed; lines
    /// over `limit` bytes are an error.
    ///
    /// # Errors
    ///
    /// As [`Connection::fill`], and an overlong line.
    pub async fn line(&mut self, limit: usize) -> anyhow::Result<String> {
        loop {
            if let Some(end) = self.line_end() {
                let line = self.data().get(..end).unwrap_or_default();
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let text = String::from_utf8_lossy(line).into_owned();
                self.consume(end + 1);
                return Ok(text);
            }
            if self.data().len() > limit {
                bail!("line longer than {limit} bytes from peer");
            }
            self.fill().await?;
        }
    }

    /// Closes the write side politely; errors do not matter any more.
    pub async fn shutdown(&mut self) {
        let _ = match &mut self.stream {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
            Stream::Gone => Ok(()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_part() {
        for (server, host) in [
            ("127.0.0.1:25", "127.0.0.1"),
            ("mail.example.org:587", "mail.example.org"),
            ("[::1]:993", "::1"),
            ("localhost", "localhost"),
        ] {
            assert_eq!(host_of(server), host, "{server}");
        }
    }

    #[test]
    fn tls_names() {
        assert!(Tls::for_server("127.0.0.1:465").is_ok());
        assert!(Tls::for_server("[::1]:993").is_ok());
        assert!(Tls::for_server("mail.example.org:995").is_ok());
    }
}
