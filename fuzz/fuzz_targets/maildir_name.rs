//! maildir_name - message file names in a Maildir's `new/` and `cur/`, which the
//! user (or any program with access to the Maildir) may have chosen.
//!
//! The input, if UTF-8, is a file name: its `,S=` and `,W=` size fields
//! (`mailstore::fuzz_api::size_field`, as the scan and the quota read them), its base
//! name (`base_name`, as the UID list keys messages) and its flags
//! (`Flags::from_file_name`). Then a name is built the way delivery builds one, from
//! the input with the characters a unique part never holds removed.
//!
//! Invariants:
//! - Nothing panics.
//! - The base name is a prefix of the name without `:`, and the size fields are
//!   read from it alone.
//! - Flags display as sorted, distinct letters that parse back to the same flags,
//!   and a name made of the base, `:2,` and those letters has the same base and flags.
//! - A name delivery makes yields exactly the sizes it was made with, before and
//!   after flags are added, and is its own base name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailstore::Flags;
use mailstore::fuzz_api::{base_name, name_with_sizes, size_field};

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };

    let base = base_name(name);
    assert!(name.starts_with(base), "base {base:?} of {name:?}");
    assert!(!base.contains(':'), "base {base:?} holds ':'");
    for key in ['S', 'W'] {
        assert_eq!(
            size_field(name, key),
            size_field(base, key),
            "{key} of {name:?}"
        );
    }

    let flags = Flags::from_file_name(name);
    let shown = flags.to_string();
    assert_eq!(Flags::parse(&shown), flags, "flags shown as {shown:?}");
    assert!(
        shown.as_bytes().windows(2).all(|w| w[0] < w[1]),
        "letters {shown:?} not sorted or repeated"
    );
    let renamed = format!("{base}:2,{shown}");
    assert_eq!(base_name(&renamed), base);
    assert_eq!(
        Flags::from_file_name(&renamed),
        flags,
        "flags of {renamed:?}"
    );

    // A delivered name: the unique part has no ',', ':' or '/'.
    let unique: String = name
        .chars()
        .filter(|c| !matches!(c, ',' | ':' | '/'))
        .collect();
    let (size, wire_size) = sizes(data);
    let delivered = name_with_sizes(&unique, size, wire_size);
    assert_eq!(base_name(&delivered), delivered);
    let in_cur = format!("{delivered}:2,{shown}");
    for file_name in [&delivered, &in_cur] {
        assert_eq!(size_field(file_name, 'S'), Some(size), "{file_name:?}");
        assert_eq!(size_field(file_name, 'W'), Some(wire_size), "{file_name:?}");
    }
    assert_eq!(Flags::from_file_name(&in_cur), flags);
});

/// Two sizes from the input's bytes (the first eight and the last eight, as
/// little-endian numbers), so that the fuzzer controls them.
fn sizes(data: &[u8]) -> (u64, u64) {
    let number = |bytes: &[u8]| {
        let mut out = [0u8; 8];
        for (o, b) in out.iter_mut().zip(bytes) {
            *o = *b;
        }
        u64::from_le_bytes(out)
    };
    let tail = data.len().saturating_sub(8);
    (number(data), number(&data[tail..]))
}
