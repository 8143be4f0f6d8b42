//! Framing and encoding: the only place postcard is called.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of postcard
//! body. [`encode`] builds a whole frame, [`write_frame`] sends one, [`read_frame`]
//! returns one body (checking its length before allocating), and [`decode`] turns a
//! body back into a message, refusing trailing bytes.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{DecodeError, Error, Result};

/// Size of the length prefix in bytes.
pub const PREFIX_LEN: usize = 4;

/// One encoded message with its length prefix, ready to be written.
///
/// Only [`encode`] builds a `Frame`, so the prefix always matches the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    bytes: Vec<u8>,
}

impl Frame {
    /// The whole frame: length prefix then body, exactly as it goes on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The postcard body, without the length prefix.
    pub fn body(&self) -> &[u8] {
        self.bytes.get(PREFIX_LEN..).unwrap_or_default()
    }

    /// The wire bytes, consuming the frame.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Encodes `msg` as a complete frame (length prefix and postcard body).
///
/// # Errors
/// [`Error::Encode`] if the serializer fails, [`Error::FrameTooLarge`] if the body does
/// not fit the 32-bit length prefix.
pub fn encode<T: Serialize>(msg: &T) -> Result<Frame> {
    // Reserve the prefix, then patch it once the body length is known.
    let mut bytes = postcard::to_extend(msg, vec![0u8; PREFIX_LEN])
        .map_err(|source| Error::Encode { source })?;
    let body_len = bytes.len().saturating_sub(PREFIX_LEN);
    let prefix = u32::try_from(body_len).map_err(|_| Error::FrameTooLarge {
        len: body_len,
        max: u32_as_usize(u32::MAX),
    })?;
    if let Some(head) = bytes.get_mut(..PREFIX_LEN) {
        head.copy_from_slice(&prefix.to_be_bytes());
    }
    Ok(Frame { bytes })
}

/// Decodes one message from a frame body (as returned by [`read_frame`]).
///
/// # Errors
/// [`DecodeError::Malformed`] if the bytes are not a `T`, [`DecodeError::TrailingBytes`]
/// if anything follows the message.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    let (msg, rest) = postcard::take_from_bytes::<T>(body).map_err(DecodeError::Malformed)?;
    if rest.is_empty() {
        Ok(msg)
    } else {
        Err(DecodeError::TrailingBytes { count: rest.len() })
    }
}

/// Reads one frame and returns its body.
///
/// Returns `Ok(None)` when the stream ends cleanly before the first byte of a frame.
/// The announced length is checked against `max_len` before any buffer is allocated.
///
/// # Errors
/// [`Error::FrameTooLarge`] if the length exceeds `max_len`, [`Error::Truncated`] if the
/// stream ends inside the frame, [`Error::Io`] on other read failures.
pub async fn read_frame<R>(reader: &mut R, max_len: usize) -> Result<Option<Vec<u8>>>
where
    R: AsyncRead + Unpin,
{
    let mut prefix = [0u8; PREFIX_LEN];
    let mut filled = 0;
    while let Some(rest) = prefix.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        let n = reader.read(rest).await.map_err(|source| Error::Io {
            what: "read frame length",
            source,
        })?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(Error::Truncated {
                    what: "length prefix",
                })
            };
        }
        filled += n;
    }

    let len = u32_as_usize(u32::from_be_bytes(prefix));
    if len > max_len {
        return Err(Error::FrameTooLarge { len, max: max_len });
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::Truncated { what: "body" }
        } else {
            Error::Io {
                what: "read frame body",
                source,
            }
        }
    })?;
    Ok(Some(body))
}

/// Writes one frame and flushes the stream.
///
/// `max_len` is the receiver's limit: a frame it would refuse is not sent at all.
///
/// # Errors
/// [`Error::FrameTooLarge`] if the body exceeds `max_len`, [`Error::Io`] if writing
/// fails.
pub async fn write_frame<W>(writer: &mut W, frame: &Frame, max_len: usize) -> Result<()>
where
    W: AsyncWrite + Unpin,
{
    let len = frame.body().len();
    if len > max_len {
        return Err(Error::FrameTooLarge { len, max: max_len });
    }
    writer
        .write_all(frame.as_bytes())
        .await
        .map_err(|source| Error::Io {
            what: "write frame",
            source,
        })?;
    writer.flush().await.map_err(|source| Error::Io {
        what: "flush frame",
        source,
    })
}

/// Widens a `u32` to `usize`, saturating on (hypothetical) 16-bit targets.
fn u32_as_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(body: &[u8]) -> Vec<u8> {
        let len = u32::try_from(body.len()).unwrap();
        [&len.to_be_bytes()[..], body].concat()
    }

    #[test]
    fn encode_writes_big_endian_length_then_body() {
        let frame = encode(&(7u8, 300u32)).unwrap();
        assert_eq!(frame.as_bytes(), &[0, 0, 0, 3, 7, 0xac, 0x02]);
        assert_eq!(frame.body(), &[7, 0xac, 0x02]);
    }

    #[test]
    fn decode_round_trips() {
        let frame = encode(&("abc".to_owned(), Some(5u64))).unwrap();
        let back: (String, Option<u64>) = decode(frame.body()).unwrap();
        assert_eq!(back, ("abc".to_owned(), Some(5)));
    }

    #[test]
    fn decode_rejects_trailing_bytes() {
        let err = decode::<u8>(&[1, 2, 3]).unwrap_err();
        assert!(
            matches!(err, DecodeError::TrailingBytes { count: 2 }),
            "{err:?}"
        );
    }

    #[test]
    fn decode_rejects_empty_and_short_bodies() {
        assert!(matches!(decode::<u8>(&[]), Err(DecodeError::Malformed(_))));
        // A string announcing 5 bytes but carrying 2.
        assert!(matches!(
            decode::<String>(&[5, b'a', b'b']),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn read_frame_accepts_max_and_max_minus_one() {
        const MAX: usize = 100;
        for len in [0, MAX - 1, MAX] {
            let wire = frame_of(&vec![0xab; len]);
            let mut reader = &wire[..];
            let body = read_frame(&mut reader, MAX).await.unwrap().unwrap();
            assert_eq!(body.len(), len);
            assert!(reader.is_empty());
        }
    }

    #[tokio::test]
    async fn read_frame_refuses_max_plus_one() {
        const MAX: usize = 100;
        let wire = frame_of(&[0xab; MAX + 1]);
        let err = read_frame(&mut &wire[..], MAX).await.unwrap_err();
        assert!(
            matches!(err, Error::FrameTooLarge { len: 101, max: 100 }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn read_frame_refuses_huge_length_before_reading_body() {
        // A 4 GiB announcement followed by a few bytes: if read_frame allocated and read
        // the body it would consume them and end with Truncated instead.
        let wire = [0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        let mut reader = &wire[..];
        let err = read_frame(&mut reader, 1024).await.unwrap_err();
        assert!(
            matches!(err, Error::FrameTooLarge { len, max: 1024 } if len == usize::try_from(u32::MAX).unwrap()),
            "{err:?}"
        );
        assert_eq!(reader, &[1, 2, 3], "body bytes must not be consumed");
    }

    #[tokio::test]
    async fn read_frame_eof_before_frame_is_none() {
        assert_eq!(read_frame(&mut &[][..], 10).await.unwrap(), None);
    }

    #[tokio::test]
    async fn read_frame_eof_inside_prefix_is_truncated() {
        let err = read_frame(&mut &[0u8, 0][..], 10).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Truncated {
                    what: "length prefix"
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn read_frame_eof_inside_body_is_truncated() {
        let err = read_frame(&mut &[0u8, 0, 0, 3, 1, 2][..], 10)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Truncated { what: "body" }), "{err:?}");
    }

    #[tokio::test]
    async fn read_frame_reassembles_a_prefix_split_across_reads() {
        let mut reader = (&[0u8][..])
            .chain(&[0u8, 0][..])
            .chain(&[2u8, 9][..])
            .chain(&[8u8][..]);
        let body = read_frame(&mut reader, 10).await.unwrap().unwrap();
        assert_eq!(body, vec![9, 8]);
        assert_eq!(read_frame(&mut reader, 10).await.unwrap(), None);
    }

    #[tokio::test]
    async fn write_frame_then_read_frame_round_trips() {
        let (mut a, mut b) = tokio::io::duplex(64);
        let frame = encode(&"hello".to_owned()).unwrap();
        write_frame(&mut a, &frame, 16).await.unwrap();
        drop(a);
        let body = read_frame(&mut b, 16).await.unwrap().unwrap();
        assert_eq!(decode::<String>(&body).unwrap(), "hello");
        assert_eq!(read_frame(&mut b, 16).await.unwrap(), None);
    }

    #[tokio::test]
    async fn write_frame_refuses_what_the_receiver_would_refuse() {
        let mut sink = Vec::new();
        let frame = encode(&[7u8; 8]).unwrap();
        let err = write_frame(&mut sink, &frame, 7).await.unwrap_err();
        assert!(
            matches!(err, Error::FrameTooLarge { len: 8, max: 7 }),
            "{err:?}"
        );
        assert!(sink.is_empty());
    }
}
