//! name - Maildir file names: making unique ones, reading the size fields.
//!
//! A message file is named `UNIQUE,S=SIZE,W=WIRESIZE` in `new/`, and
//! `UNIQUE,S=SIZE,W=WIRESIZE:2,FLAGS` once a reader moves it to `cur/`.
//! `UNIQUE` is `SECONDS.M<micros>P<pid>Q<counter>R<random hex>.HOST`: the
//! delivery time, then what makes it unique on this host (pid, and a
//! per-process delivery counter for several deliveries in one microsecond),
//! then 64 random bits for hosts sharing one store whose pids and clocks
//! collide (containers with their own pid namespaces), then the host name.
//! `UNIQUE` never contains `,` `/` or `:`, so the fields after it parse
//! unambiguously.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Deliveries made by this process so far: the `Q` part of the name.
///
/// Process-wide on purpose: uniqueness is per process (with the pid).
static DELIVERIES: AtomicU64 = AtomicU64::new(0);

/// unique_name - a fresh `UNIQUE` part for a message file.
pub(crate) fn unique_name() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let counter = DELIVERIES.fetch_add(1, Ordering::Relaxed);
    // RandomState is seeded from the OS's random source; hashing the time
    // and counter under it gives bits another host cannot predict or repeat.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(now.as_nanos());
    hasher.write_u64(counter);
    let pid = std::process::id();
    hasher.write_u32(pid);
    let random = hasher.finish();
    format!(
        "{}.M{}P{}Q{}R{:016x}.{}",
        now.as_secs(),
        now.subsec_micros(),
        pid,
        counter,
        random,
        hostname()
    )
}

/// hostname - this host's name, made safe for a Maildir file name.
///
/// As the Maildir specification says, `/` becomes `\057` and `:` becomes
/// `\072`; we escape `,` (our field separator), `\`, and any byte that is
/// not printable ASCII the same way, in octal. Read once per process.
fn hostname() -> &'static str {
    static HOSTNAME: OnceLock<String> = OnceLock::new();
    HOSTNAME.get_or_init(escaped_hostname)
}

/// escaped_hostname - [`hostname`], read from the system.
fn escaped_hostname() -> String {
    let raw = nix::unistd::gethostname().unwrap_or_default();
    let mut out = String::new();
    for &b in raw.as_bytes() {
        if b.is_ascii_graphic() && !matches!(b, b'/' | b':' | b',' | b'\\') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\{b:03o}");
        }
    }
    if out.is_empty() {
        out.push_str("localhost");
    }
    out
}

/// with_sizes - the name in `new/` for a message stored under `unique`.
pub(crate) fn with_sizes(unique: &str, size: u64, wire_size: u64) -> String {
    format!("{unique},S={size},W={wire_size}")
}

/// size_field - the value of the `,S=` (`key` 'S') or `,W=` (`key` 'W')
/// field in a message file name, if it has a valid one.
///
/// Only the part before the `:2,` info suffix is searched, and the value
/// must be all digits.
pub(crate) fn size_field(name: &str, key: char) -> Option<u64> {
    let base = name.split(':').next().unwrap_or(name);
    base.split(',').skip(1).find_map(|field| {
        let value = field.strip_prefix(key)?.strip_prefix('=')?;
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        value.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_have_the_documented_shape() {
        let name = unique_name();
        let mut parts = name.splitn(3, '.');
        let secs = parts.next().unwrap();
        let middle = parts.next().unwrap();
        let host = parts.next().unwrap();
        assert!(secs.bytes().all(|b| b.is_ascii_digit()), "{name}");
        assert!(middle.starts_with('M'), "{name}");
        for marker in ['P', 'Q', 'R'] {
            assert!(middle.contains(marker), "{name}");
        }
        assert!(!host.is_empty());
        assert!(!name.contains(['/', ':', ',']), "{name}");
    }

    #[test]
    fn unique_names_differ() {
        let a = unique_name();
        let b = unique_name();
        assert_ne!(a, b);
    }

    #[test]
    fn size_fields_parse() {
        let cases: &[(&str, char, Option<u64>)] = &[
            ("1.M2P3.host,S=1234,W=1260", 'S', Some(1234)),
            ("1.M2P3.host,S=1234,W=1260", 'W', Some(1260)),
            ("1.M2P3.host,S=1234,W=1260:2,FS", 'W', Some(1260)),
            ("1.M2P3.host,W=1260,S=12:2,S", 'S', Some(12)),
            ("1.M2P3.host:2,S=5", 'S', None),
            ("1.M2P3.host", 'S', None),
            ("1.M2P3.host,S=", 'S', None),
            ("1.M2P3.host,S=12x", 'S', None),
            ("1.M2P3.host,S=-1", 'S', None),
            ("1.M2P3.host,S=99999999999999999999999", 'S', None),
            ("S=5", 'S', None),
        ];
        for &(name, key, want) in cases {
            assert_eq!(size_field(name, key), want, "{name} {key}");
        }
    }
}
