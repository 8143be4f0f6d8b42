//! codec - the bytes of a queue file; the only module that calls postcard.
//!
//! Layout (all integers big-endian; see the crate docs for the why):
//!
//! ```text
//! header   24 bytes  magic "POSTERNQ", version u16, flags u16 (0),
//!                    envelope length u32, message length u64
//!                    (u64::MAX until commit: "not complete")
//! envelope           postcard of EnvelopeV1
//! message            the message bytes, as given
//! trailer  32 bytes  magic "POSTERNE", version u16, flags u16 (0),
//!                    envelope length u32, message length u64,
//!                    CRC-32 of envelope + message u32,
//!                    CRC-32 of the trailer's first 28 bytes u32
//! updates            zero or more records: type u8, payload length u32,
//!                    payload (postcard), CRC-32 of type + length + payload u32
//! ```
//!
//! The on-disk structs below mirror the public types in `envelope` but are
//! separate on purpose: the public types may grow, the V1 layout may not.
//! postcard encodes an enum variant by its position and a struct by field
//! order, so fields and variants here are never reordered or removed; a
//! change means a new version with its own structs, and the golden test
//! in `tests/` fails until that is done deliberately.

use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::crc::crc32;
use crate::envelope::{Client, DsnNotify, DsnRet, Envelope, Recipient, RecipientState};
use crate::error::{Corruption, Error};

/// First bytes of every queue file.
pub(crate) const HEADER_MAGIC: [u8; 8] = *b"POSTERNQ";
/// First bytes of the end record.
pub(crate) const TRAILER_MAGIC: [u8; 8] = *b"POSTERNE";
/// The format version this build writes and the only one it reads.
pub(crate) const VERSION: u16 = 1;
/// Size of the header.
pub(crate) const HEADER_LEN: u64 = 24;
/// Size of the end record.
pub(crate) const TRAILER_LEN: u64 = 32;
/// Offset of the header's message-length field, patched at commit.
pub(crate) const HEADER_MESSAGE_LEN_OFFSET: u64 = 16;
/// Message length in the header of a file that was never committed.
pub(crate) const UNCOMMITTED: u64 = u64::MAX;
/// Type byte + payload length before an update payload.
pub(crate) const UPDATE_HEAD_LEN: u64 = 5;
/// Bytes of an update record besides its payload (head + CRC).
pub(crate) const UPDATE_OVERHEAD: u64 = UPDATE_HEAD_LEN + 4;
/// Largest update payload written or read; reasons are cut to fit.
pub(crate) const MAX_UPDATE_LEN: u32 = 64 * 1024;

/// Largest encoded envelope this crate writes or reads, in bytes.
pub const MAX_ENVELOPE_LEN: usize = 64 * 1024 * 1024;

/// The fixed fields of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Length of the envelope that follows the header.
    pub(crate) envelope_len: u32,
    /// Length of the message, or [`UNCOMMITTED`].
    pub(crate) message_len: u64,
}

/// The fixed fields of the end record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trailer {
    /// Must equal the header's.
    pub(crate) envelope_len: u32,
    /// Must equal the header's.
    pub(crate) message_len: u64,
    /// CRC-32 over envelope and message bytes.
    pub(crate) data_crc: u32,
}

/// A per-recipient state change, appended after the end record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Update {
    /// The recipient was delivered.
    Done {
        /// Recipient index.
        rcpt: u32,
    },
    /// The recipient failed permanently.
    Failed {
        /// Recipient index.
        rcpt: u32,
        /// Enhanced status code.
        status: String,
        /// Reason text.
        reason: String,
    },
    /// The recipient failed temporarily.
    Deferred {
        /// Recipient index.
        rcpt: u32,
        /// Reason text.
        reason: String,
    },
}

impl Update {
    /// rcpt - the recipient this update is about.
    pub(crate) fn rcpt(&self) -> u32 {
        match self {
            Self::Done { rcpt } | Self::Failed { rcpt, .. } | Self::Deferred { rcpt, .. } => *rcpt,
        }
    }

    /// into_state - the state the recipient has after this update.
    pub(crate) fn into_state(self) -> RecipientState {
        match self {
            Self::Done { .. } => RecipientState::Done,
            Self::Failed { status, reason, .. } => RecipientState::Failed { status, reason },
            Self::Deferred { reason, .. } => RecipientState::Deferred(reason),
        }
    }
}

/// Wire type numbers of update records. Fixed forever; add new ones at the end.
const TAG_DONE: u8 = 1;
/// See [`TAG_DONE`].
const TAG_FAILED: u8 = 2;
/// See [`TAG_DONE`].
const TAG_DEFERRED: u8 = 3;

// ---------------------------------------------------------------------------
// On-disk structs, version 1. `S` is `&str` when encoding, `String` when decoding.

/// Envelope, version 1.
#[derive(Serialize, Deserialize)]
struct EnvelopeV1<S> {
    sender: S,
    recipients: Vec<RecipientV1<S>>,
    arrival_secs: u64,
    arrival_nanos: u32,
    client: Option<ClientV1<S>>,
    auth_user: Option<S>,
    dsn_envid: Option<S>,
    dsn_ret: Option<DsnRetV1>,
    body_8bit: bool,
    smtputf8: bool,
}

/// Recipient, version 1.
#[derive(Serialize, Deserialize)]
struct RecipientV1<S> {
    address: S,
    orcpt: Option<S>,
    notify_never: bool,
    notify_success: bool,
    notify_failure: bool,
    notify_delay: bool,
}

/// Client, version 1.
#[derive(Serialize, Deserialize)]
struct ClientV1<S> {
    name: S,
    addr: S,
    helo: Option<S>,
    protocol: S,
}

/// RET, version 1. The variant position is the wire number: never reorder.
#[derive(Serialize, Deserialize)]
enum DsnRetV1 {
    Full,
    Headers,
}

/// Payload of a Done record.
#[derive(Serialize, Deserialize)]
struct DoneV1 {
    rcpt: u32,
}

/// Payload of a Failed record.
#[derive(Serialize, Deserialize)]
struct FailedV1<S> {
    rcpt: u32,
    status: S,
    reason: S,
}

/// Payload of a Deferred record.
#[derive(Serialize, Deserialize)]
struct DeferredV1<S> {
    rcpt: u32,
    reason: S,
}

// ---------------------------------------------------------------------------
// Header and trailer.

/// encode_header - the 24 header bytes.
pub(crate) fn encode_header(header: Header) -> [u8; 24] {
    let mut out = [0u8; 24];
    let mut w = Put(&mut out);
    w.put(&HEADER_MAGIC);
    w.put(&VERSION.to_be_bytes());
    w.put(&0u16.to_be_bytes());
    w.put(&header.envelope_len.to_be_bytes());
    w.put(&header.message_len.to_be_bytes());
    out
}

/// decode_header - check magic, version and flags; return the lengths.
pub(crate) fn decode_header(bytes: &[u8; 24]) -> Result<Header, Corruption> {
    let mut r = Take(bytes);
    if r.take::<8>() != Some(HEADER_MAGIC) {
        return Err(Corruption::BadMagic);
    }
    let version = r.u16();
    if version != VERSION {
        return Err(Corruption::UnsupportedVersion(version));
    }
    let flags = r.u16();
    if flags != 0 {
        return Err(Corruption::UnknownFlags(flags));
    }
    Ok(Header {
        envelope_len: r.u32(),
        message_len: r.u64(),
    })
}

/// encode_trailer - the 32 end-record bytes, with their own checksum.
pub(crate) fn encode_trailer(trailer: Trailer) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut w = Put(&mut out);
    w.put(&TRAILER_MAGIC);
    w.put(&VERSION.to_be_bytes());
    w.put(&0u16.to_be_bytes());
    w.put(&trailer.envelope_len.to_be_bytes());
    w.put(&trailer.message_len.to_be_bytes());
    w.put(&trailer.data_crc.to_be_bytes());
    let (body, _) = out.split_at(28);
    let crc = crc32(body);
    let mut w = Put(&mut out);
    w.skip(28);
    w.put(&crc.to_be_bytes());
    out
}

/// decode_trailer - None if this is not an intact end record of version 1.
pub(crate) fn decode_trailer(bytes: &[u8; 32]) -> Option<Trailer> {
    let (body, stored) = bytes.split_at(28);
    let mut r = Take(bytes);
    if r.take::<8>() != Some(TRAILER_MAGIC) || r.u16() != VERSION || r.u16() != 0 {
        return None;
    }
    let trailer = Trailer {
        envelope_len: r.u32(),
        message_len: r.u64(),
        data_crc: r.u32(),
    };
    (stored == crc32(body).to_be_bytes()).then_some(trailer)
}

// ---------------------------------------------------------------------------
// Envelope.

/// encode_envelope - the envelope bytes as stored in version 1.
pub(crate) fn encode_envelope(env: &Envelope) -> Result<Vec<u8>, Error> {
    if u32::try_from(env.recipients.len()).is_err() {
        return Err(Error::TooManyRecipients {
            count: env.recipients.len(),
        });
    }
    let arrival = env
        .arrival
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::ArrivalBeforeEpoch)?;
    let wire = EnvelopeV1 {
        sender: env.sender.as_str(),
        recipients: env
            .recipients
            .iter()
            .map(|r| RecipientV1 {
                address: r.address.as_str(),
                orcpt: r.orcpt.as_deref(),
                notify_never: r.notify.never,
                notify_success: r.notify.success,
                notify_failure: r.notify.failure,
                notify_delay: r.notify.delay,
            })
            .collect(),
        arrival_secs: arrival.as_secs(),
        arrival_nanos: arrival.subsec_nanos(),
        client: env.client.as_ref().map(|c| ClientV1 {
            name: c.name.as_str(),
            addr: c.addr.as_str(),
            helo: c.helo.as_deref(),
            protocol: c.protocol.as_str(),
        }),
        auth_user: env.auth_user.as_deref(),
        dsn_envid: env.dsn_envid.as_deref(),
        dsn_ret: env.dsn_ret.map(|r| match r {
            DsnRet::Full => DsnRetV1::Full,
            DsnRet::Headers => DsnRetV1::Headers,
        }),
        body_8bit: env.body_8bit,
        smtputf8: env.smtputf8,
    };
    let bytes = postcard::to_allocvec(&wire).map_err(|source| Error::Encode {
        what: "envelope",
        source,
    })?;
    if bytes.len() > MAX_ENVELOPE_LEN {
        return Err(Error::EnvelopeTooLarge {
            len: bytes.len(),
            max: MAX_ENVELOPE_LEN,
        });
    }
    Ok(bytes)
}

/// decode_envelope - parse version-1 envelope bytes; all of them must be used.
pub(crate) fn decode_envelope(bytes: &[u8]) -> Result<Envelope, Corruption> {
    let (wire, rest) =
        postcard::take_from_bytes::<EnvelopeV1<String>>(bytes).map_err(Corruption::Envelope)?;
    if !rest.is_empty() {
        return Err(Corruption::EnvelopeTrailingBytes);
    }
    if wire.arrival_nanos >= 1_000_000_000 {
        return Err(Corruption::Arrival);
    }
    let arrival = UNIX_EPOCH
        .checked_add(Duration::new(wire.arrival_secs, wire.arrival_nanos))
        .ok_or(Corruption::Arrival)?;
    Ok(Envelope {
        sender: wire.sender,
        recipients: wire
            .recipients
            .into_iter()
            .map(|r| Recipient {
                address: r.address,
                orcpt: r.orcpt,
                notify: DsnNotify {
                    never: r.notify_never,
                    success: r.notify_success,
                    failure: r.notify_failure,
                    delay: r.notify_delay,
                },
            })
            .collect(),
        arrival,
        client: wire.client.map(|c| Client {
            name: c.name,
            addr: c.addr,
            helo: c.helo,
            protocol: c.protocol,
        }),
        auth_user: wire.auth_user,
        dsn_envid: wire.dsn_envid,
        dsn_ret: wire.dsn_ret.map(|r| match r {
            DsnRetV1::Full => DsnRet::Full,
            DsnRetV1::Headers => DsnRet::Headers,
        }),
        body_8bit: wire.body_8bit,
        smtputf8: wire.smtputf8,
    })
}

// ---------------------------------------------------------------------------
// Update records.

/// encode_update - one complete update record: head, payload, CRC.
pub(crate) fn encode_update(update: &Update) -> Result<Vec<u8>, Error> {
    let encoded = match update {
        Update::Done { rcpt } => (TAG_DONE, postcard::to_allocvec(&DoneV1 { rcpt: *rcpt })),
        Update::Failed {
            rcpt,
            status,
            reason,
        } => (
            TAG_FAILED,
            postcard::to_allocvec(&FailedV1 {
                rcpt: *rcpt,
                status: status.as_str(),
                reason: reason.as_str(),
            }),
        ),
        Update::Deferred { rcpt, reason } => (
            TAG_DEFERRED,
            postcard::to_allocvec(&DeferredV1 {
                rcpt: *rcpt,
                reason: reason.as_str(),
            }),
        ),
    };
    let (tag, payload) = encoded;
    let payload = payload.map_err(|source| Error::Encode {
        what: "update record",
        source,
    })?;
    // Callers cut reasons so this always fits; refuse rather than write a
    // record that the reader would reject.
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|len| *len <= MAX_UPDATE_LEN)
        .ok_or(Error::UpdateTooLarge { len: payload.len() })?;
    let mut record = Vec::with_capacity(payload.len() + 9);
    record.push(tag);
    record.extend_from_slice(&len.to_be_bytes());
    record.extend_from_slice(&payload);
    let crc = crc32(&record);
    record.extend_from_slice(&crc.to_be_bytes());
    Ok(record)
}

/// decode_update_head - type byte and payload length of a record.
pub(crate) fn decode_update_head(bytes: &[u8; 5]) -> (u8, u32) {
    let [tag, a, b, c, d] = *bytes;
    (tag, u32::from_be_bytes([a, b, c, d]))
}

/// update_crc_ok - whether a whole record (head, payload, CRC) checks out.
pub(crate) fn update_crc_ok(record: &[u8]) -> bool {
    match record.split_last_chunk::<4>() {
        Some((body, stored)) => *stored == crc32(body).to_be_bytes(),
        None => false,
    }
}

/// Why a checksummed update record cannot be used.
#[derive(Debug)]
pub(crate) enum UpdateDecodeError {
    /// A type byte this version does not know.
    UnknownTag(u8),
    /// The payload does not decode as its type says.
    Payload(postcard::Error),
}

/// decode_update - the update in a record whose CRC was already checked.
/// `payload` excludes head and CRC. All payload bytes must be used.
pub(crate) fn decode_update(tag: u8, payload: &[u8]) -> Result<Update, UpdateDecodeError> {
    fn whole<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, UpdateDecodeError> {
        let (value, rest) =
            postcard::take_from_bytes::<T>(payload).map_err(UpdateDecodeError::Payload)?;
        if rest.is_empty() {
            Ok(value)
        } else {
            Err(UpdateDecodeError::Payload(
                postcard::Error::DeserializeBadEncoding,
            ))
        }
    }
    match tag {
        TAG_DONE => whole::<DoneV1>(payload).map(|p| Update::Done { rcpt: p.rcpt }),
        TAG_FAILED => whole::<FailedV1<String>>(payload).map(|p| Update::Failed {
            rcpt: p.rcpt,
            status: p.status,
            reason: p.reason,
        }),
        TAG_DEFERRED => whole::<DeferredV1<String>>(payload).map(|p| Update::Deferred {
            rcpt: p.rcpt,
            reason: p.reason,
        }),
        other => Err(UpdateDecodeError::UnknownTag(other)),
    }
}

// ---------------------------------------------------------------------------
// Small byte helpers that never index or panic.

/// Reads fixed-size big-endian fields from the front of a slice.
struct Take<'a>(&'a [u8]);

impl Take<'_> {
    /// take - the next N bytes, or None at the end.
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    /// u16 - next two bytes (0 past the end; callers size their input).
    fn u16(&mut self) -> u16 {
        self.take().map(u16::from_be_bytes).unwrap_or(0)
    }

    /// u32 - next four bytes.
    fn u32(&mut self) -> u32 {
        self.take().map(u32::from_be_bytes).unwrap_or(0)
    }

    /// u64 - next eight bytes.
    fn u64(&mut self) -> u64 {
        self.take().map(u64::from_be_bytes).unwrap_or(0)
    }
}

/// Writes bytes at the front of a buffer, moving forward.
struct Put<'a>(&'a mut [u8]);

impl Put<'_> {
    /// put - copy `bytes` and advance (silently stops at the end; callers size the buffer).
    fn put(&mut self, bytes: &[u8]) {
        let buf = std::mem::take(&mut self.0);
        let n = bytes.len().min(buf.len());
        let (head, rest) = buf.split_at_mut(n);
        head.copy_from_slice(bytes.get(..n).unwrap_or_default());
        self.0 = rest;
    }

    /// skip - advance without writing.
    fn skip(&mut self, n: usize) {
        let buf = std::mem::take(&mut self.0);
        let n = n.min(buf.len());
        let (_, rest) = buf.split_at_mut(n);
        self.0 = rest;
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::QueueId;

    fn envelope() -> Envelope {
        Envelope {
            sender: "a@example.org".into(),
            recipients: vec![Recipient {
                address: "b@example.net".into(),
                orcpt: None,
                notify: DsnNotify::default(),
            }],
            arrival: UNIX_EPOCH + Duration::new(1_700_000_000, 5),
            client: None,
            auth_user: None,
            dsn_envid: None,
            dsn_ret: Some(DsnRet::Headers),
            body_8bit: false,
            smtputf8: true,
        }
    }

    #[test]
    fn header_round_trip() {
        let h = Header {
            envelope_len: 77,
            message_len: 1 << 40,
        };
        assert_eq!(decode_header(&encode_header(h)), Ok(h));
    }

    #[test]
    fn header_checks() {
        let good = encode_header(Header {
            envelope_len: 1,
            message_len: 2,
        });
        let mut bad_magic = good;
        bad_magic[0] ^= 1;
        assert_eq!(decode_header(&bad_magic), Err(Corruption::BadMagic));
        let mut v2 = good;
        v2[9] = 2;
        assert_eq!(decode_header(&v2), Err(Corruption::UnsupportedVersion(2)));
        let mut flags = good;
        flags[11] = 1;
        assert_eq!(decode_header(&flags), Err(Corruption::UnknownFlags(1)));
    }

    #[test]
    fn trailer_round_trip_and_checksum() {
        let t = Trailer {
            envelope_len: 3,
            message_len: 4,
            data_crc: 0xDEAD_BEEF,
        };
        let bytes = encode_trailer(t);
        assert_eq!(decode_trailer(&bytes), Some(t));
        for i in 0..bytes.len() {
            let mut b = bytes;
            b[i] ^= 0x10;
            assert_eq!(decode_trailer(&b), None, "flip at {i}");
        }
    }

    #[test]
    fn envelope_round_trip() {
        let env = envelope();
        assert_eq!(decode_envelope(&encode_envelope(&env).unwrap()), Ok(env));
    }

    #[test]
    fn envelope_decode_rejects_garbage_and_trailing_bytes() {
        let mut bytes = encode_envelope(&envelope()).unwrap();
        bytes.push(0);
        assert_eq!(
            decode_envelope(&bytes),
            Err(Corruption::EnvelopeTrailingBytes)
        );
        assert!(matches!(
            decode_envelope(&[0xFF; 12]),
            Err(Corruption::Envelope(_))
        ));
        assert!(matches!(decode_envelope(&[]), Err(Corruption::Envelope(_))));
    }

    #[test]
    fn envelope_before_epoch_is_refused() {
        let mut env = envelope();
        env.arrival = UNIX_EPOCH - Duration::from_secs(1);
        assert!(matches!(
            encode_envelope(&env),
            Err(Error::ArrivalBeforeEpoch)
        ));
        env.arrival = SystemTime::now();
        assert!(encode_envelope(&env).is_ok());
    }

    #[test]
    fn update_round_trip() {
        let updates = [
            Update::Done { rcpt: 0 },
            Update::Failed {
                rcpt: 7,
                status: "5.1.1".into(),
                reason: "no such user".into(),
            },
            Update::Deferred {
                rcpt: u32::MAX,
                reason: String::new(),
            },
        ];
        for u in updates {
            let record = encode_update(&u).unwrap();
            assert!(update_crc_ok(&record));
            let head: [u8; 5] = record[..5].try_into().unwrap();
            let (tag, len) = decode_update_head(&head);
            assert_eq!(record.len(), len as usize + 9);
            let payload = &record[5..record.len() - 4];
            assert_eq!(decode_update(tag, payload).unwrap(), u);
        }
    }

    #[test]
    fn update_decode_rejects_unknown_tag_and_garbage() {
        assert!(matches!(
            decode_update(0, &[0]),
            Err(UpdateDecodeError::UnknownTag(0))
        ));
        assert!(matches!(
            decode_update(TAG_DONE, &[0, 0]),
            Err(UpdateDecodeError::Payload(_))
        ));
        assert!(matches!(
            decode_update(TAG_FAILED, &[0xFF]),
            Err(UpdateDecodeError::Payload(_))
        ));
    }

    #[test]
    fn queue_id_serde_round_trip_validates() {
        let id = QueueId::new();
        let bytes = postcard::to_allocvec(&id).unwrap();
        assert_eq!(postcard::from_bytes::<QueueId>(&bytes).unwrap(), id);
        let bad = postcard::to_allocvec("../../etc/passwd0000").unwrap();
        assert!(postcard::from_bytes::<QueueId>(&bad).is_err());
    }
}
