//! A server connection that may be upgraded to TLS (STARTTLS, STLS) or start in it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::server::TlsStream;

/// A connection as it is now: plain, or TLS after the handshake.
pub enum MaybeTls<S> {
    /// Before TLS (or without it).
    Plain(S),
    /// After the TLS handshake.
    Tls(Box<TlsStream<S>>),
    /// Between taking the plain stream for the handshake and getting the TLS one;
    /// every I/O fails.
    Upgrading,
}

impl<S: AsyncRead + AsyncWrite + Unpin> MaybeTls<S> {
    /// True after a TLS handshake.
    pub fn is_tls(&self) -> bool {
        matches!(self, MaybeTls::Tls(_))
    }

    /// Runs the server handshake on the plain stream, within `limit`; on success the
    /// connection is TLS and the session summary (for logs and headers) is returned.
    /// On failure (a timeout is [`io::ErrorKind::TimedOut`]) the connection is gone.
    pub async fn upgrade(
        &mut self,
        acceptor: &tokio_rustls::TlsAcceptor,
        limit: Duration,
    ) -> io::Result<Option<crate::TlsSummary>> {
        let MaybeTls::Plain(stream) = std::mem::replace(self, MaybeTls::Upgrading) else {
            return Err(io::Error::other("TLS is already active"));
        };
        let stream = tokio::time::timeout(limit, acceptor.accept(stream))
            .await
            .map_err(|_| timed_out("TLS handshake"))??;
        let summary = crate::describe(stream.get_ref().1);
        *self = MaybeTls::Tls(Box::new(stream));
        Ok(summary)
    }

    /// Writes all of `bytes` and flushes them, within `limit` (a client that stops
    /// reading must not hold a session forever); a timeout is
    /// [`io::ErrorKind::TimedOut`].
    pub async fn send(&mut self, bytes: &[u8], limit: Duration) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        tokio::time::timeout(limit, async {
            self.write_all(bytes).await?;
            self.flush().await
        })
        .await
        .map_err(|_| timed_out("write"))?
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

fn upgrading() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "connection is being upgraded to TLS",
    )
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            MaybeTls::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            MaybeTls::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            MaybeTls::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            MaybeTls::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
}
