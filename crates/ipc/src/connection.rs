//! Typed connections: the handshake and request/reply exchange for one channel.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixStream;

use crate::codec;
use crate::error::{Error, Result};

/// Largest [`Hello`] frame a client accepts; channel names are short.
pub const HELLO_MAX_FRAME: usize = 256;

/// Describes one IPC channel: its name, version, frame limit and message types.
///
/// Implemented by a unit type in each channel module (e.g. [`crate::control::Control`]).
pub trait Channel {
    /// The channel name sent in [`Hello`]; one of the constants in [`crate::names`].
    const NAME: &'static str;
    /// The wire version; bumped whenever a message type changes.
    const VERSION: u32;
    /// Largest frame body either side accepts on this channel.
    const MAX_FRAME: usize;
    /// What the client sends.
    type Request: Serialize + DeserializeOwned + Debug;
    /// What the server answers.
    type Reply: Serialize + DeserializeOwned + Debug;
}

/// The server's greeting, sent before anything else on every channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The channel the server speaks ([`Channel::NAME`]), so a client that reached
    /// the wrong socket notices at once.
    pub channel: String,
    /// The server's [`Channel::VERSION`]; both sides must agree exactly.
    pub version: u32,
}

/// One connection on channel `C` over stream `S`, after the handshake.
///
/// Every read and every write is bounded by the connection's timeout, and every read
/// by [`Channel::MAX_FRAME`]. After any error the stream may stand inside a frame, so
/// the caller drops the connection instead of retrying on it.
pub struct Connection<C, S> {
    stream: S,
    timeout: Duration,
    channel: PhantomData<fn() -> C>,
}

impl<C: Channel, S: Debug> Debug for Connection<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("channel", &C::NAME)
            .field("stream", &self.stream)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<C, S> Connection<C, S>
where
    C: Channel,
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Server side: sends [`Hello`] for `C` and returns the connection.
    ///
    /// # Errors
    /// [`Error::Timeout`] or [`Error::Io`] if the greeting cannot be written.
    pub async fn accept(stream: S, timeout: Duration) -> Result<Self> {
        let mut conn = Self::new(stream, timeout);
        let hello = Hello {
            channel: C::NAME.to_owned(),
            version: C::VERSION,
        };
        conn.send(&hello, HELLO_MAX_FRAME, "write hello").await?;
        Ok(conn)
    }

    /// Client side: reads the server's [`Hello`] and checks channel and version.
    ///
    /// # Errors
    /// [`Error::WrongPeer`] if the server speaks another channel,
    /// [`Error::VersionMismatch`] if it speaks another version, [`Error::Closed`] if it
    /// hangs up without greeting, [`Error::Timeout`] if it stays silent, and the
    /// framing and decoding errors of [`codec`].
    pub async fn connect(stream: S, timeout: Duration) -> Result<Self> {
        let mut conn = Self::new(stream, timeout);
        let hello: Hello =
            conn.recv(HELLO_MAX_FRAME, "read hello")
                .await?
                .ok_or(Error::Closed {
                    channel: C::NAME,
                    what: "hello",
                })?;
        if hello.channel != C::NAME {
            return Err(Error::WrongPeer {
                expected: C::NAME,
                got: hello.channel,
            });
        }
        if hello.version != C::VERSION {
            return Err(Error::VersionMismatch {
                channel: C::NAME,
                ours: C::VERSION,
                theirs: hello.version,
            });
        }
        Ok(conn)
    }

    /// Client side: sends one request.
    ///
    /// # Errors
    /// [`Error::FrameTooLarge`] if it exceeds [`Channel::MAX_FRAME`], [`Error::Timeout`],
    /// [`Error::Io`] or [`Error::Encode`].
    pub async fn send_request(&mut self, request: &C::Request) -> Result<()> {
        self.send(request, C::MAX_FRAME, "write request").await
    }

    /// Server side: waits for the next request; `Ok(None)` when the client hung up
    /// cleanly between requests.
    ///
    /// # Errors
    /// [`Error::Timeout`] if nothing arrives in time, [`Error::Decode`] for a body that
    /// is not a `C::Request`, and the framing errors of [`codec::read_frame`].
    pub async fn recv_request(&mut self) -> Result<Option<C::Request>> {
        self.recv(C::MAX_FRAME, "read request").await
    }

    /// Server side: sends one reply.
    ///
    /// # Errors
    /// As for [`Connection::send_request`].
    pub async fn send_reply(&mut self, reply: &C::Reply) -> Result<()> {
        self.send(reply, C::MAX_FRAME, "write reply").await
    }

    /// Client side: waits for the next reply.
    ///
    /// # Errors
    /// [`Error::Closed`] if the server hangs up first, otherwise as for
    /// [`Connection::recv_request`].
    pub async fn recv_reply(&mut self) -> Result<C::Reply> {
        self.recv(C::MAX_FRAME, "read reply")
            .await?
            .ok_or(Error::Closed {
                channel: C::NAME,
                what: "reply",
            })
    }

    /// Client side: sends `request` and waits for its reply.
    ///
    /// # Errors
    /// Those of [`Connection::send_request`] and [`Connection::recv_reply`].
    pub async fn call(&mut self, request: &C::Request) -> Result<C::Reply> {
        self.send_request(request).await?;
        self.recv_reply().await
    }

    /// The underlying stream, e.g. to read its peer credentials.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The timeout applied to each read and write.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Changes the timeout applied to each later read and write.
    ///
    /// A server that keeps idle clients (waiting in [`Connection::recv_request`]) sets
    /// its idle limit here.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The underlying stream, ending the typed connection.
    pub fn into_inner(self) -> S {
        self.stream
    }

    fn new(stream: S, timeout: Duration) -> Self {
        Self {
            stream,
            timeout,
            channel: PhantomData,
        }
    }

    async fn send<T: Serialize>(
        &mut self,
        msg: &T,
        max_len: usize,
        what: &'static str,
    ) -> Result<()> {
        let frame = codec::encode(msg)?;
        tokio::time::timeout(
            self.timeout,
            codec::write_frame(&mut self.stream, &frame, max_len),
        )
        .await
        .map_err(|_| Error::Timeout {
            channel: C::NAME,
            what,
        })?
    }

    async fn recv<T: DeserializeOwned>(
        &mut self,
        max_len: usize,
        what: &'static str,
    ) -> Result<Option<T>> {
        let body = tokio::time::timeout(self.timeout, codec::read_frame(&mut self.stream, max_len))
            .await
            .map_err(|_| Error::Timeout {
                channel: C::NAME,
                what,
            })??;
        body.map(|body| {
            codec::decode(&body).map_err(|source| Error::Decode {
                channel: C::NAME,
                source,
            })
        })
        .transpose()
    }
}

/// Connects to the Unix socket at `path` and performs the client handshake for `C`.
///
/// `timeout` bounds the connect, the handshake, and later each read and write.
///
/// # Errors
/// [`Error::Connect`] if the socket cannot be reached, [`Error::Timeout`] if connecting
/// takes too long, and the errors of [`Connection::connect`].
pub async fn connect_unix<C: Channel>(
    path: &Path,
    timeout: Duration,
) -> Result<Connection<C, UnixStream>> {
    let stream = tokio::time::timeout(timeout, UnixStream::connect(path))
        .await
        .map_err(|_| Error::Timeout {
            channel: C::NAME,
            what: "connect",
        })?
        .map_err(|source| Error::Connect {
            path: path.to_owned(),
            source,
        })?;
    Connection::connect(stream, timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{Control, Reply, Request};
    use crate::{DecodeError, peer_credentials};
    use tokio::io::AsyncWriteExt as _;

    const TIMEOUT: Duration = Duration::from_secs(5);
    const SHORT: Duration = Duration::from_millis(50);

    /// A channel with a tiny frame limit and simple types.
    struct Echo;

    impl Channel for Echo {
        const NAME: &'static str = "echo";
        const VERSION: u32 = 3;
        const MAX_FRAME: usize = 16;
        type Request = String;
        type Reply = String;
    }

    /// The control channel's name with another version.
    struct ControlV2;

    impl Channel for ControlV2 {
        const NAME: &'static str = Control::NAME;
        const VERSION: u32 = 2;
        const MAX_FRAME: usize = Control::MAX_FRAME;
        type Request = Request;
        type Reply = Reply;
    }

    #[test]
    fn golden_hello() {
        let hello = Hello {
            channel: "master".to_owned(),
            version: 1,
        };
        let expected = [&[0, 0, 0, 8, 6][..], b"master", &[1]].concat();
        let frame = codec::encode(&hello).unwrap();
        assert_eq!(frame.as_bytes(), expected);
        assert_eq!(codec::decode::<Hello>(frame.body()).unwrap(), hello);
    }

    #[tokio::test]
    async fn handshake_then_request_and_reply() {
        let (client, server) = UnixStream::pair().unwrap();
        let server = tokio::spawn(async move {
            let mut conn = Connection::<Echo, _>::accept(server, TIMEOUT).await?;
            let mut seen = Vec::new();
            while let Some(request) = conn.recv_request().await? {
                conn.send_reply(&request.to_uppercase()).await?;
                seen.push(request);
            }
            Ok::<_, Error>(seen)
        });

        let mut conn = Connection::<Echo, _>::connect(client, TIMEOUT)
            .await
            .unwrap();
        assert_eq!(conn.call(&"one".to_owned()).await.unwrap(), "ONE");
        assert_eq!(conn.call(&"two".to_owned()).await.unwrap(), "TWO");
        drop(conn);

        assert_eq!(server.await.unwrap().unwrap(), ["one", "two"]);
    }

    #[tokio::test]
    async fn client_refuses_another_channel() {
        let (client, server) = UnixStream::pair().unwrap();
        let _server = Connection::<Echo, _>::accept(server, TIMEOUT)
            .await
            .unwrap();
        let err = Connection::<Control, _>::connect(client, TIMEOUT)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::WrongPeer { expected: "master", got } if got == "echo"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn client_refuses_another_version() {
        let (client, server) = UnixStream::pair().unwrap();
        let _server = Connection::<ControlV2, _>::accept(server, TIMEOUT)
            .await
            .unwrap();
        let err = Connection::<Control, _>::connect(client, TIMEOUT)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::VersionMismatch {
                    channel: "master",
                    ours: 1,
                    theirs: 2
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn client_times_out_on_a_silent_server() {
        let (client, _server) = UnixStream::pair().unwrap();
        let err = Connection::<Control, _>::connect(client, SHORT)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Timeout {
                    channel: "master",
                    what: "read hello"
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn client_reports_a_server_that_hangs_up_without_hello() {
        let (client, server) = UnixStream::pair().unwrap();
        drop(server);
        let err = Connection::<Control, _>::connect(client, TIMEOUT)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Closed {
                    channel: "master",
                    what: "hello"
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn client_refuses_an_oversized_hello() {
        let (client, mut server) = UnixStream::pair().unwrap();
        let big = u32::try_from(HELLO_MAX_FRAME + 1).unwrap();
        server.write_all(&big.to_be_bytes()).await.unwrap();
        let err = Connection::<Control, _>::connect(client, TIMEOUT)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::FrameTooLarge { len: 257, max: 256 }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn server_times_out_waiting_for_a_request() {
        let (client, server) = UnixStream::pair().unwrap();
        let mut server = Connection::<Echo, _>::accept(server, SHORT).await.unwrap();
        let _client = Connection::<Echo, _>::connect(client, TIMEOUT)
            .await
            .unwrap();
        let err = server.recv_request().await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Timeout {
                    channel: "echo",
                    what: "read request"
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn oversized_request_is_not_sent() {
        let (client, server) = UnixStream::pair().unwrap();
        let mut server = Connection::<Echo, _>::accept(server, SHORT).await.unwrap();
        let mut client = Connection::<Echo, _>::connect(client, TIMEOUT)
            .await
            .unwrap();
        // 1 length byte + 16 bytes of text = 17 > MAX_FRAME.
        let err = client.send_request(&"x".repeat(16)).await.unwrap_err();
        assert!(
            matches!(err, Error::FrameTooLarge { len: 17, max: 16 }),
            "{err:?}"
        );
        // Exactly at the limit still goes through.
        client.send_request(&"x".repeat(15)).await.unwrap();
        assert_eq!(
            server.recv_request().await.unwrap().unwrap(),
            "x".repeat(15)
        );
    }

    #[tokio::test]
    async fn server_reports_an_undecodable_request() {
        let (client, server) = UnixStream::pair().unwrap();
        let mut server = Connection::<Control, _>::accept(server, TIMEOUT)
            .await
            .unwrap();
        let mut client = Connection::<Control, _>::connect(client, TIMEOUT)
            .await
            .unwrap()
            .into_inner();
        // Variant 7 does not exist in control::Request.
        client.write_all(&[0, 0, 0, 1, 7]).await.unwrap();
        let err = server.recv_request().await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Decode {
                    channel: "master",
                    source: DecodeError::Malformed(_)
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn client_reports_a_server_that_hangs_up_before_replying() {
        let (client, server) = UnixStream::pair().unwrap();
        let mut server = Connection::<Control, _>::accept(server, TIMEOUT)
            .await
            .unwrap();
        let mut client = Connection::<Control, _>::connect(client, TIMEOUT)
            .await
            .unwrap();
        client.send_request(&Request::Status).await.unwrap();
        assert_eq!(server.recv_request().await.unwrap(), Some(Request::Status));
        drop(server);
        let err = client.recv_reply().await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Closed {
                    channel: "master",
                    what: "reply"
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn connect_unix_through_a_socket_file_and_check_peer_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();

        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let peer = peer_credentials(&stream).unwrap();
            let mut conn = Connection::<Control, _>::accept(stream, TIMEOUT)
                .await
                .unwrap();
            let request = conn.recv_request().await.unwrap();
            assert_eq!(request, Some(Request::Status));
            conn.send_reply(&Reply::Denied).await.unwrap();
            peer
        });

        let mut conn = connect_unix::<Control>(&path, TIMEOUT).await.unwrap();
        let our_side = peer_credentials(conn.get_ref()).unwrap();
        assert_eq!(conn.call(&Request::Status).await.unwrap(), Reply::Denied);
        let their_side = server.await.unwrap();

        let ours = crate::PeerCred {
            pid: Some(i32::try_from(std::process::id()).unwrap()),
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        };
        assert_eq!(their_side, ours);
        assert_eq!(our_side, ours);
    }

    #[tokio::test]
    async fn connect_unix_names_a_missing_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        let err = connect_unix::<Control>(&path, TIMEOUT).await.unwrap_err();
        assert!(
            matches!(&err, Error::Connect { path: p, .. } if *p == path),
            "{err:?}"
        );
        assert!(err.to_string().contains("absent"), "{err}");
    }
}
