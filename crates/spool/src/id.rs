//! id - queue IDs: unique, time-sortable, safe as file names.
//!
//! A queue ID is 20 characters from the Crockford base-32 alphabet
//! (`0-9` and the upper-case letters without `I`, `L`, `O`, `U`):
//!
//! ```text
//! TTTTTTTTTTTRRRRRRRRR
//! |          `- 9 characters (45 bits): per-process random mixed with pid and time
//! `- 11 characters (55 bits): microseconds since the Unix epoch, big-endian digits
//! ```
//!
//! The alphabet is in ASCII order and the time is written with a fixed
//! width, so comparing two IDs as strings compares their creation times;
//! `ls` of a queue directory lists mail oldest first. 55 bits of
//! microseconds last until the year 3111.
//!
//! # Uniqueness
//!
//! * Within one process the time part is strictly increasing: a
//!   process-wide atomic remembers the last value handed out and the next
//!   ID takes `max(now, last + 1)`. Two IDs of one process never share a
//!   time part, whatever the clock does.
//! * Between processes and hosts the 45 random bits separate IDs made in
//!   the same microsecond. They come from a keyed hash of (pid, time):
//!   the key is drawn once per process from `std`'s `RandomState`, which
//!   std seeds from the operating system's random source (getrandom(2)).
//!   The pid is mixed in because a forked child without exec inherits the
//!   parent's key and atomic. Two processes collide only if they pick the
//!   same microsecond and the same 45 bits: about 3e-14 per coincidence.
//! * The spool never relies on that alone: a new file is created with
//!   `O_EXCL` and renamed without replacing, so a collision is retried
//!   with a fresh ID, never overwrites mail.
//!
//! Queue IDs are not secrets and not unpredictable in a cryptographic
//! sense; nothing may depend on them being unguessable.

use std::fmt;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The digits, in ASCII order so that string order is numeric order.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters of the time part.
const TIME_LEN: usize = 11;
/// Characters of the random part.
const RANDOM_LEN: usize = 9;
/// Bits per character.
const BITS: u32 = 5;
/// The time part wraps after this many microseconds (year 3111).
const TIME_MASK: u64 = (1 << (BITS * 11)) - 1;

/// A validated queue ID; the only way this crate builds a spool path.
///
/// Construct one with [`QueueId::new`] (a fresh ID) or [`QueueId::parse`]
/// (an ID from outside: a log line, the command line, an IPC message).
/// `Ord` is creation-time order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueId([u8; QueueId::LEN]);

/// Why a string is not a queue ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseQueueIdError {
    /// The string does not have exactly [`QueueId::LEN`] bytes.
    #[error("queue ID must be {expected} characters, got {got}")]
    Length {
        /// Always [`QueueId::LEN`].
        expected: usize,
        /// The length that was given, in bytes.
        got: usize,
    },
    /// A byte outside the alphabet (this includes `.`, `/` and lower case).
    #[error("queue ID has an invalid character at position {position}")]
    Character {
        /// Zero-based byte offset of the first bad byte.
        position: usize,
    },
}

impl QueueId {
    /// Length of every queue ID, in bytes (all ASCII).
    pub const LEN: usize = TIME_LEN + RANDOM_LEN;

    /// new - a fresh ID for a queue file created now.
    pub fn new() -> Self {
        let micros = next_micros();
        let random = random_bits(micros);
        let mut out = [b'0'; Self::LEN];
        let (time_part, random_part) = out.split_at_mut(TIME_LEN);
        encode(micros, time_part);
        encode(random, random_part);
        Self(out)
    }

    /// parse - validate an ID from outside; exactly the format or an error.
    ///
    /// Only the 32 characters of the alphabet are accepted (upper case), so
    /// a parsed ID never contains `/`, `.` or anything else that could
    /// make a path leave its queue directory.
    pub fn parse(s: &str) -> Result<Self, ParseQueueIdError> {
        let bytes: [u8; Self::LEN] =
            s.as_bytes()
                .try_into()
                .map_err(|_| ParseQueueIdError::Length {
                    expected: Self::LEN,
                    got: s.len(),
                })?;
        if let Some(position) = bytes.iter().position(|b| digit_value(*b).is_none()) {
            return Err(ParseQueueIdError::Character { position });
        }
        Ok(Self(bytes))
    }

    /// as_str - the ID as text (ASCII, [`QueueId::LEN`] bytes).
    pub fn as_str(&self) -> &str {
        // The bytes are always ASCII from ALPHABET (checked by `parse`, made
        // by `encode`), so this cannot fail; the fallback only avoids a panic.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// created - the creation time encoded in the ID (microsecond precision).
    ///
    /// Within a busy process this may run a few microseconds ahead of the
    /// real clock, because each ID takes a distinct microsecond.
    pub fn created(&self) -> SystemTime {
        let mut micros = 0u64;
        for b in self.0.iter().take(TIME_LEN) {
            micros = (micros << BITS) | u64::from(digit_value(*b).unwrap_or(0));
        }
        UNIX_EPOCH + Duration::from_micros(micros)
    }
}

/// A fresh ID, as [`QueueId::new`].
impl Default for QueueId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QueueId({})", self.as_str())
    }
}

impl FromStr for QueueId {
    type Err = ParseQueueIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for QueueId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// Serialized as its text; deserializing validates like [`QueueId::parse`].
impl Serialize for QueueId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for QueueId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = QueueId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a {}-character queue ID", QueueId::LEN)
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<QueueId, E> {
                QueueId::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// digit_value - the value of one alphabet character, None for anything else.
fn digit_value(b: u8) -> Option<u8> {
    ALPHABET
        .iter()
        .position(|a| *a == b)
        .and_then(|p| u8::try_from(p).ok())
}

/// encode - write the low `5 * out.len()` bits of `value`, most significant first.
fn encode(mut value: u64, out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        let [low, ..] = value.to_le_bytes();
        // In range: masked to 5 bits, and ALPHABET has 32 entries.
        *slot = ALPHABET
            .get(usize::from(low & 0x1F))
            .copied()
            .unwrap_or(b'0');
        value >>= BITS;
    }
}

/// The last time part handed out by this process, for strict monotonicity.
static LAST_MICROS: AtomicU64 = AtomicU64::new(0);

/// next_micros - a time part later than every earlier one of this process.
fn next_micros() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let mut last = LAST_MICROS.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1)) & TIME_MASK;
        match LAST_MICROS.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// random_bits - 45 bits that differ between processes (see the module docs).
fn random_bits(micros: u64) -> u64 {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    let mut hasher = KEY.get_or_init(RandomState::new).build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(micros);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_id_has_the_format() {
        let id = QueueId::new();
        let s = id.to_string();
        assert_eq!(s.len(), QueueId::LEN);
        assert!(s.bytes().all(|b| ALPHABET.contains(&b)), "{s}");
        assert_eq!(QueueId::parse(&s), Ok(id));
        assert_eq!(s.parse::<QueueId>(), Ok(id));
    }

    #[test]
    fn ids_in_a_tight_loop_are_unique_and_sorted() {
        let ids: Vec<QueueId> = (0..20_000).map(|_| QueueId::new()).collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} !< {}", pair[0], pair[1]);
            assert!(pair[0].as_str() < pair[1].as_str());
        }
    }

    #[test]
    fn ids_from_threads_are_unique() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..5_000).map(|_| QueueId::new()).collect::<Vec<_>>()))
            .collect();
        let mut all: Vec<QueueId> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn created_is_close_to_now() {
        let before = SystemTime::now();
        let id = QueueId::new();
        let created = id.created();
        let after = SystemTime::now();
        // Monotonic bumping may put it a little ahead; allow a second.
        assert!(created + Duration::from_secs(1) >= before);
        assert!(created <= after + Duration::from_secs(1));
    }

    #[test]
    fn created_decodes_the_time_part() {
        // 1_700_000_000_000_000 us = 0x60A_24181E4000.
        let mut buf = [b'0'; QueueId::LEN];
        encode(1_700_000_000_000_000, &mut buf[..TIME_LEN]);
        let id = QueueId::parse(std::str::from_utf8(&buf).unwrap()).unwrap();
        assert_eq!(
            id.created(),
            UNIX_EPOCH + Duration::from_micros(1_700_000_000_000_000)
        );
    }

    #[test]
    fn string_order_is_time_order() {
        let mut a = [b'0'; QueueId::LEN];
        let mut b = [b'Z'; QueueId::LEN];
        encode(999, &mut a[..TIME_LEN]);
        encode(1000, &mut b[..TIME_LEN]);
        let a = QueueId::parse(std::str::from_utf8(&a).unwrap()).unwrap();
        let b = QueueId::parse(std::str::from_utf8(&b).unwrap()).unwrap();
        assert!(a < b);
        assert!(a.created() < b.created());
    }

    #[test]
    fn parse_rejects_bad_ids() {
        let good = QueueId::new().to_string();
        let cases: &[(&str, String)] = &[
            ("empty", String::new()),
            ("one short", good[1..].to_string()),
            ("one long", format!("{good}0")),
            ("dot dot slash", format!("../{}", &good[3..])),
            ("slash", format!("{}/", &good[1..])),
            ("dot", format!(".{}", &good[1..])),
            ("lower case", good.to_lowercase()),
            ("letter I", format!("I{}", &good[1..])),
            ("letter O", format!("O{}", &good[1..])),
            ("letter U", format!("U{}", &good[1..])),
            ("space", format!(" {}", &good[1..])),
            ("nul", format!("\0{}", &good[1..])),
            ("tmp name", format!(".{good}.tmp")),
            ("non-ascii", format!("é{}", &good[2..])),
        ];
        for (name, input) in cases {
            assert!(QueueId::parse(input).is_err(), "{name}: {input:?} accepted");
        }
        assert_eq!(
            QueueId::parse(""),
            Err(ParseQueueIdError::Length {
                expected: 20,
                got: 0
            })
        );
        assert_eq!(
            QueueId::parse(&format!("{}a", &good[..19])),
            Err(ParseQueueIdError::Character { position: 19 })
        );
    }
}
