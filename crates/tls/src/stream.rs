//! A server connection that may be upgraded to TLS (STARTTLS, STLS) or start in it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

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

    /// Runs the server handshake on the plain stream; on success the connection is
    /// TLS and the session summary (for logs and headers) is returned. On failure the
    /// connection is gone.
    pub async fn upgrade(
        &mut self,
        acceptor: &tokio_rustls::TlsAcceptor,
    ) -> io::Result<Option<crate::TlsSummary>> {
        let MaybeTls::Plain(stream) = std::mem::replace(self, MaybeTls::Upgrading) else {
            return Err(io::Error::other("TLS is already active"));
        };
        let stream = acceptor.accept(stream).await?;
        let summary = crate::describe(stream.get_ref().1);
        *self = MaybeTls::Tls(Box::new(stream));
        Ok(summary)
    }
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
