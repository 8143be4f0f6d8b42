//! keywords - a Maildir's `dovecot-keywords`, the user's file (Dovecot or damage may
//! have written it).
//!
//! The input is the file's bytes, read by the keywords module's parser (through
//! `mailstore::fuzz_api::parse_keywords`).
//!
//! Invariants:
//! - Parsing never panics and gives 26 slots.
//! - Every name kept is a valid IMAP keyword (`is_valid_keyword`), and no two are
//!   equal without regard to ASCII case.
//! - Written back and read again, the list is the same.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use mailstore::fuzz_api::{keywords_to_bytes, parse_keywords};
use mailstore::is_valid_keyword;

fuzz_target!(|data: &[u8]| {
    let names = parse_keywords(data);
    assert_eq!(names.len(), 26);
    let mut seen = HashSet::new();
    for name in names.iter().flatten() {
        assert!(is_valid_keyword(name), "kept {name:?}");
        assert!(seen.insert(name.to_ascii_lowercase()), "{name:?} twice");
    }
    let written = keywords_to_bytes(&names).expect("26 slots");
    assert_eq!(parse_keywords(&written), names, "written as {written:?}");
});
