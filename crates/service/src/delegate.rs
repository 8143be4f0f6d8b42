//! delegate - tokio's stream traits for an enum of streams, written once.
//!
//! A connection is often "one of several kinds of stream" (TCP or Unix; plain or
//! TLS), and the enum that holds it must itself be a stream. Every such enum
//! passes each call to the stream of its current variant; [`delegate_stream!`]
//! writes that code, so the daemons do not each keep a copy of it.

/// delegate_stream - implement `AsyncRead` and `AsyncWrite` for an enum by passing
/// every call to the stream its current variant holds.
///
/// `delegate_stream!(Type { A, B })` names the variants that hold a stream
/// (anything `AsyncRead + AsyncWrite + Unpin`, a `Box` of one included). Variants
/// without a stream follow `else`, each with the error every call on it returns:
/// `delegate_stream!(Io { Plain, Tls } else Io::Gone => gone())`. The enum must be
/// `Unpin`. Only `poll_read`, `poll_write`, `poll_flush` and `poll_shutdown` are
/// passed on; vectored writes take tokio's default (one buffer at a time).
#[macro_export]
macro_rules! delegate_stream {
    ($ty:ty { $($variant:ident),+ $(,)? } $(else $($other:pat => $err:expr),+ $(,)?)?) => {
        impl $crate::__private::AsyncRead for $ty {
            fn poll_read(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut $crate::__private::ReadBuf<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                match self.get_mut() {
                    $(Self::$variant(s) => {
                        $crate::__private::AsyncRead::poll_read(::std::pin::Pin::new(s), cx, buf)
                    })+
                    $($($other => ::std::task::Poll::Ready(Err($err)),)+)?
                }
            }
        }

        impl $crate::__private::AsyncWrite for $ty {
            fn poll_write(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                match self.get_mut() {
                    $(Self::$variant(s) => {
                        $crate::__private::AsyncWrite::poll_write(::std::pin::Pin::new(s), cx, buf)
                    })+
                    $($($other => ::std::task::Poll::Ready(Err($err)),)+)?
                }
            }

            fn poll_flush(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                match self.get_mut() {
                    $(Self::$variant(s) => {
                        $crate::__private::AsyncWrite::poll_flush(::std::pin::Pin::new(s), cx)
                    })+
                    $($($other => ::std::task::Poll::Ready(Err($err)),)+)?
                }
            }

            fn poll_shutdown(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                match self.get_mut() {
                    $(Self::$variant(s) => {
                        $crate::__private::AsyncWrite::poll_shutdown(::std::pin::Pin::new(s), cx)
                    })+
                    $($($other => ::std::task::Poll::Ready(Err($err)),)+)?
                }
            }
        }
    };
}
